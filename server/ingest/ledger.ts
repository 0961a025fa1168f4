// Bounded memory of event keys this process knows to be kept (committed, or fsynced to the spool). Only
// consulted while the database is unreachable, so that a retry of an event already kept is still answered
// `duplicate` then; while the database is up, its idempotency ledger (tx_event_ids) answers instead.
export interface AckLedger {
  has(key: string): boolean;
  /** Records keys as kept; the oldest are forgotten beyond the bound. */
  add(keys: Iterable<string>): void;
  size(): number;
}

export function createAckLedger(max: number): AckLedger {
  // A Map iterates in insertion order: re-inserting a key makes it the newest, the first key is the oldest.
  const keys = new Map<string, true>();
  return {
    has: (k) => keys.has(k),
    add(list) {
      for (const k of list) {
        keys.delete(k);
        keys.set(k, true);
        if (keys.size > max) keys.delete(keys.keys().next().value as string);
      }
    },
    size: () => keys.size,
  };
}
