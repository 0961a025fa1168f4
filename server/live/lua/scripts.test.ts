// Every Lua script of the mirror is loaded at module init and documents its KEYS and ARGV in its header.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCRIPTS } from './index.js';

describe('mirror Lua scripts', () => {
  it('each file is loaded once and opens with a header naming its KEYS and ARGV', () => {
    const files = fs.readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.lua'));
    expect(files.length).toBe(Object.keys(SCRIPTS).length);
    for (const [name, def] of Object.entries(SCRIPTS)) {
      const header = def.lua.split(']]')[0];
      expect(header.startsWith(`--[[\n  ${name}:`), name).toBe(true);
      expect(header, name).toMatch(/KEYS\[1\]/);
      expect(header, name).toMatch(/ARGV\[1\]/);
    }
  });
});
