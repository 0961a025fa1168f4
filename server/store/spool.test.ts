import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createSpool, SpoolFullError, type SpoolRecord } from './spool.js';

const log = pino({ level: 'silent' });
const rec = (id: string): SpoolRecord => ({ events: [{ event_id: id } as never], rejected: [] });
const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'spool-'));

describe('spool', () => {
  it('replays appended records in order and then holds nothing', async () => {
    const d = dir();
    const s = createSpool(d, 1 << 20, log);
    await Promise.all(['a', 'b', 'c'].map((id) => s.append(rec(id))));
    await s.append(rec('d'));
    const seen: string[] = [];
    expect(await s.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)))).toBe(4);
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(s.pendingBytes()).toBe(0);
    expect(await s.drain(async () => undefined)).toBe(0);
  });

  it('keeps records when applying them fails, and survives a restart', async () => {
    const d = dir();
    const s = createSpool(d, 1 << 20, log);
    await s.append(rec('x'));
    await expect(s.drain(async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    await s.close();
    const again = createSpool(d, 1 << 20, log);
    expect(again.pendingBytes()).toBeGreaterThan(0);
    const seen: string[] = [];
    await again.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)));
    expect(seen).toEqual(['x']);
  });

  it('skips a torn last line (a crash mid-append, never acknowledged)', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'seg-000000000000001-1-000000.jsonl'), JSON.stringify(rec('ok')) + '\n{"events":[{"ev');
    const s = createSpool(d, 1 << 20, log);
    const seen: string[] = [];
    await s.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)));
    expect(seen).toEqual(['ok']);
  });

  it('refuses appends beyond its size limit', async () => {
    const s = createSpool(dir(), 200, log);
    await s.append(rec('a'.repeat(50)));
    await expect(s.append(rec('b'.repeat(200)))).rejects.toBeInstanceOf(SpoolFullError);
  });

  it('rewrites records for erasure', async () => {
    const s = createSpool(dir(), 1 << 20, log);
    await s.append(rec('keep'));
    await s.append(rec('erase'));
    expect(await s.rewrite((r) => (r.events[0].event_id === 'erase' ? null : r))).toBe(1);
    const seen: string[] = [];
    await s.drain(async (rs) => void seen.push(...rs.map((r) => r.events[0].event_id)));
    expect(seen).toEqual(['keep']);
  });
});
