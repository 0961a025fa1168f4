import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bodyText, charsetProblem, encodingOf, inflate, jsonSyntaxMessage } from './body.js';

describe('bodyText', () => {
  it('refuses malformed UTF-8 with the offset of the first bad byte instead of replacing it (two ids would become one)', () => {
    const a = Buffer.concat([Buffer.from('{"id":"ORD-'), Buffer.from([0xff]), Buffer.from('"}')]);
    const b = Buffer.concat([Buffer.from('{"id":"ORD-'), Buffer.from([0xfe]), Buffer.from('"}')]);
    expect(bodyText(a)).toEqual({ ok: false, message: 'The body is not valid UTF-8 (malformed byte 0xff at offset 11); send it encoded as UTF-8.' });
    expect(bodyText(b)).toMatchObject({ ok: false, message: expect.stringContaining('0xfe at offset 11') });
    // A cut multi-byte sequence at the end, and an overlong encoding of '/'.
    expect(bodyText(Buffer.from([0x22, 0xe2, 0x82]))).toMatchObject({ ok: false, message: expect.stringContaining('offset 1') });
    expect(bodyText(Buffer.from([0xc0, 0xaf]))).toMatchObject({ ok: false });
  });
  it('takes valid UTF-8, a U+FFFD the sender encoded, and ignores one leading byte order mark', () => {
    expect(bodyText(Buffer.from('{"t":"Café ✓ 🎫"}'))).toEqual({ ok: true, text: '{"t":"Café ✓ 🎫"}' });
    expect(bodyText(Buffer.from('"\uFFFD"'))).toEqual({ ok: true, text: '"\uFFFD"' });
    expect(bodyText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')]))).toEqual({ ok: true, text: '{}' });
    const badAfterBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{'), Buffer.from([0x80])]);
    expect(bodyText(badAfterBom)).toMatchObject({ ok: false, message: expect.stringContaining('0x80 at offset 4') });
  });
});

describe('jsonSyntaxMessage', () => {
  const msg = (text: string) => {
    try {
      JSON.parse(text);
    } catch (err) {
      return jsonSyntaxMessage(err, text);
    }
    throw new Error(`${text} parsed`);
  };
  const SEND = 'Send the body as JSON, e.g. {"name": "value"} (JSON.stringify), encoded as UTF-8.';
  it("says the body is not valid JSON, what and where (position, line, column) and to send JSON, never quoting the body (V8's own text does)", () => {
    expect(msg('{a}')).toBe(`The body is not valid JSON: expected property name or '}' at position 1 (line 1, column 2). ${SEND}`);
    // V8's words for what is wrong vary between Node versions; the position, line and column are the body's.
    expect(msg('{\n  "a": 1,\n  "b" 2\n}')).toMatch(/^The body is not valid JSON: [a-z][^"]* at position 18 \(line 3, column 7\)\. Send the body as JSON/);
    // V8 gives no position for an unexpected token: placed when the character occurs once, else not at all.
    expect(msg('{"a":}')).toBe(`The body is not valid JSON: unexpected character "}" at position 5 (line 1, column 6). ${SEND}`);
    expect(msg('{"a":1}}')).toMatch(/^The body is not valid JSON: unexpected non-whitespace character after JSON at position 7 \(line 1, column 8\)/);
    expect(msg('[1,]]')).toBe(`The body is not valid JSON: unexpected character "]". ${SEND}`);
    // Cut short: the end of the body.
    expect(msg('{"events": [')).toBe(`The body is not valid JSON: the body ends before its JSON value does at position 12 (line 1, column 13). ${SEND}`);
    expect(msg(' \n')).toBe(`The body is empty, which is not JSON. ${SEND}`);
    // No part of the body is quoted: the message is kept with a rejected body whose contact data is digested.
    expect(msg('{"phone": "+40 712 345 678" "x"}')).not.toMatch(/712|345|678/);
    expect(msg(`{"a":"${'x'.repeat(100)}",}`)).toContain('at position 108 (line 1, column 109). Send');
  });
});

describe('charsetProblem and encodingOf', () => {
  it('accepts no charset and UTF-8 in any spelling; refuses others by name', () => {
    expect(charsetProblem(undefined)).toBeNull();
    expect(charsetProblem('application/json')).toBeNull();
    expect(charsetProblem('application/json; charset=UTF-8')).toBeNull();
    expect(charsetProblem('text/plain;charset="utf8"')).toBeNull();
    expect(charsetProblem('application/json; charset=ISO-8859-1')).toContain('charset="ISO-8859-1"');
    expect(charsetProblem('application/json; charset=utf-8; charset=latin1')).toContain('charset="latin1"');
  });
  it('normalises the encoding, absent or empty = identity; refuses br', () => {
    expect(encodingOf(undefined)).toEqual({ ok: true, encoding: 'identity' });
    expect(encodingOf(' GZIP ')).toEqual({ ok: true, encoding: 'gzip' });
    expect(encodingOf('br')).toMatchObject({ ok: false, message: expect.stringContaining('"br"') });
  });
  it('inflate bounds what it decompresses', () => {
    expect(inflate(zlib.gzipSync(Buffer.alloc(5000)), 'gzip', 1000)).toMatchObject({ ok: false, reason: 'too_large' });
  });
});
