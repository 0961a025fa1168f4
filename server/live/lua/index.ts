// The Redis mirror's Lua scripts, one per file with a KEYS/ARGV header (BullMQ's layout), read once when the
// module loads so a missing or unreadable script fails the start, not the first flush.
import fs from 'node:fs';
import type { Redis } from 'ioredis';

const read = (name: string): string => fs.readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');

/** ioredis command name → script; numberOfKeys absent = given per call (txDay, txCount, txUv). */
export const SCRIPTS = {
  txDay: { lua: read('day') },
  txCount: { lua: read('count') },
  txSnap: { numberOfKeys: 2, lua: read('snap') },
  txMax: { numberOfKeys: 1, lua: read('max') },
  txOwner: { numberOfKeys: 1, lua: read('owner') },
  txUnlink: { numberOfKeys: 3, lua: read('unlink') },
  txUv: { lua: read('uv') },
  txUvCount: { numberOfKeys: 2, lua: read('uvcount') },
} as const;

/** Defines every script as a command on this connection (ioredis sends EVALSHA, loading it on NOSCRIPT). */
export function defineScripts(redis: Redis): void {
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, def);
}
