import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuplicateMigrationError, readMigrations } from './migrate.js';

const dirWith = (files: string[]) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tx-mig-'));
  for (const f of files) fs.writeFileSync(path.join(dir, f), 'SELECT 1;');
  return dir;
};

describe('readMigrations', () => {
  it('orders the numbered files and ignores everything else', () => {
    const dir = dirWith(['002_b.sql', '001_a.sql', 'notes.md', '10_short.sql']);
    expect(readMigrations(dir).map((m) => [m.version, m.name])).toEqual([[1, '001_a.sql'], [2, '002_b.sql']]);
  });

  it('refuses two files with one number, naming both (one of them would never be applied)', () => {
    const dir = dirWith(['001_a.sql', '014_experiments.sql', '014_features.sql']);
    expect(() => readMigrations(dir)).toThrow(DuplicateMigrationError);
    expect(() => readMigrations(dir)).toThrow(/014_experiments\.sql and 014_features\.sql share the number 014/);
  });

  it('the shipped migrations have distinct numbers', () => {
    const versions = readMigrations().map((m) => m.version);
    expect(new Set(versions).size).toBe(versions.length);
  });
});
