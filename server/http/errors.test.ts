// The error-code catalogue against the README: the "Error codes" table is rendered from errors.ts, and every
// code the README's other status tables name has the status the catalogue gives it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, fail, fillTemplate, renderErrorTable, type ErrorCode } from './errors.js';

const README = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

describe('error catalogue', () => {
  it('is the README\'s "Error codes" table (regenerate it with renderErrorTable when this fails)', () => {
    const m = /<!-- error-codes:begin -->\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(README);
    expect(m, 'README.md has no error-codes markers').not.toBeNull();
    expect(m![1]).toBe(renderErrorTable());
  });

  it('gives every code the README\'s status tables name the status written next to it', () => {
    const mismatches: string[] = [];
    for (const line of README.split('\n')) {
      const row = /^\| (\d{3}) \| (.*?) \|/.exec(line);
      if (!row) continue;
      for (const [, code] of row[2].matchAll(/`([a-z_]+)`/g)) {
        if (!(code in ERRORS)) mismatches.push(`${code}: not in errors.ts`);
        else if (ERRORS[code as ErrorCode].status !== Number(row[1])) mismatches.push(`${code}: README ${row[1]}, errors.ts ${ERRORS[code as ErrorCode].status}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('leaves no route writing a status next to a code: replies come from fail(code, …), errorReply is gone', () => {
    const root = path.resolve(import.meta.dirname, '..');
    const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const found = files.filter((f) => /\berrorReply\(/.test(fs.readFileSync(path.join(root, f), 'utf8')));
    expect(found).toEqual([]);
  });

  it('has the codes the live token check answers (/ws upgrade, Socket.IO handshake), at 401', () => {
    for (const code of ['missing_token', 'invalid_token', 'token_expired']) expect((ERRORS as Record<string, { status: number }>)[code]?.status, code).toBe(401);
  });

  it('fills message templates and keeps a specific message as given', () => {
    expect(fillTemplate('No key {id}; {other}.', { id: 5 })).toBe('No key 5; {other}.');
    expect(fail('unknown_key', { id: 5 })).toEqual({ status: 404, body: { error: { code: 'unknown_key', message: 'No key 5.' } }, headers: undefined });
    expect(fail('invalid_field', 'x is bad.', { field: 'x', in: 'query' }).body).toEqual({ error: { code: 'invalid_field', message: 'x is bad.', field: 'x', in: 'query' } });
    expect(fail('invalid_admin_token')).toMatchObject({ status: 401, body: { error: { message: 'Send Authorization: Bearer <ADMIN_TOKEN>.' } } });
  });
});
