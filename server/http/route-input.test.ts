// replacedQueryBytes names the parameter whose raw bytes were not UTF-8; a name that is itself malformed
// percent-encoding is named as sent (decodeURIComponent's URIError is the only failure expected there).
import { describe, expect, it } from 'vitest';
import { replacedQueryBytes } from './route-input.js';

describe('replacedQueryBytes', () => {
  it('names the parameter decoded, or as sent when its name is malformed percent-encoding', () => {
    expect(replacedQueryBytes('a=1&b=2')).toBeNull();
    expect(replacedQueryBytes('a=1&my%20name=x\uFFFD')).toMatchObject({ code: 'invalid_field', in: 'query', field: 'my name' });
    expect(replacedQueryBytes('a+b=\uFFFD')).toMatchObject({ field: 'a b' });
    expect(replacedQueryBytes('bad%ZZ=\uFFFD')).toMatchObject({ field: 'bad%ZZ' });
    expect(replacedQueryBytes('cut%E0%A4=\uFFFD')).toMatchObject({ field: 'cut%E0%A4', message: expect.stringContaining('"cut%E0%A4"') });
  });
});
