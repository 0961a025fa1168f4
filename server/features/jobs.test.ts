// The embedded store's chunk sizing for the feature jobs: towards the target time per chunk, never more than
// KEY_CHUNK keys, at least 10, and at most doubling or quartering from one chunk to the next.
import { describe, expect, it } from 'vitest';
import { CHUNK_TARGET_MS, idRanges, KEY_CHUNK, nextChunk } from './jobs.js';

describe('feature job chunk size', () => {
  it("keeps a chunk that took the target time", () => {
    expect(nextChunk(400, CHUNK_TARGET_MS)).toBe(400);
  });
  it('shrinks after a slow chunk, by a quarter at most per step, never below 10 keys', () => {
    expect(nextChunk(400, CHUNK_TARGET_MS * 2)).toBe(200);
    expect(nextChunk(400, CHUNK_TARGET_MS * 100)).toBe(100);
    expect(nextChunk(20, 60_000)).toBe(10);
  });
  it('grows after a fast chunk, doubling at most per step, never past KEY_CHUNK', () => {
    expect(nextChunk(100, CHUNK_TARGET_MS / 1.5)).toBe(150);
    expect(nextChunk(100, 1)).toBe(200);
    expect(nextChunk(100, 0)).toBe(200);
    expect(nextChunk(KEY_CHUNK, 1)).toBe(KEY_CHUNK);
  });
});

describe('feature job id ranges', () => {
  it('covers (lastId, maxId] with ranges of at most span ids, none when nothing is new', () => {
    expect(idRanges('0', '120000', 50_000)).toEqual([['0', '50000'], ['50000', '100000'], ['100000', '120000']]);
    expect(idRanges('7', '8', 50_000)).toEqual([['7', '8']]);
    expect(idRanges('100', '100', 50_000)).toEqual([]);
    expect(idRanges('200', '100', 50_000)).toEqual([]);
  });
  it('works past 2^53 (ids are bigints)', () => {
    expect(idRanges('9007199254740993', '9007199254740995', 1)).toEqual([['9007199254740993', '9007199254740994'], ['9007199254740994', '9007199254740995']]);
  });
});
