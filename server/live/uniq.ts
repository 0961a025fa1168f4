// Distinct counting for unique visitors: exact (a Set) while small, a HyperLogLog (hyperloglog-lite, 2^14
// registers, ~0.8% standard error, 16 KB) once it passes EXACT_LIMIT. Small events stay exact and cheap;
// big ones cost a fixed 16 KB. Adding the same id twice never changes the count; merge is a union.
// The ids added are pseudonyms (pseudo.ts), never raw visitor ids; the HyperLogLog keeps only registers.
// Neither can forget one member: a GDPR erasure rebuilds them from the store (erase.ts).
import HyperLogLog, { type Hll } from 'hyperloglog-lite';

export const HLL_BITS = 14;
export const EXACT_LIMIT = 256;

export class Uniq {
  private set: Set<string> | null = new Set();
  private hll: Hll | null = null;

  add(id: string): void {
    if (this.set) {
      this.set.add(id);
      if (this.set.size > EXACT_LIMIT) this.promote();
    } else {
      this.hll!.add(HyperLogLog.hash(id));
    }
  }

  count(): number {
    return this.set ? this.set.size : this.hll!.count();
  }

  /** Adds everything `other` has seen (union). */
  merge(other: Uniq): void {
    if (other.set) {
      for (const id of other.set) this.add(id);
      return;
    }
    if (this.set) this.promote();
    this.hll!.merge(other.hll!.output());
  }

  get exact(): boolean {
    return this.set !== null;
  }

  private promote(): void {
    const hll = HyperLogLog(HLL_BITS);
    for (const id of this.set!) hll.add(HyperLogLog.hash(id));
    this.hll = hll;
    this.set = null;
  }
}

/**
 * Unique visitors to show: Redis' count (every node's visitors: the same on every node) when it has one, unless
 * it is clearly below this node's own sketch, i.e. Redis lost the key (flushed, or expired with the node's
 * counters still going): then the node's count, rather than a collapse to the visitors since. The two are
 * different estimates of one set (≈1 % each), hence the 5 % margin. Pure.
 */
export function visitorsCount(redis: number | undefined, local: number): number {
  return redis !== undefined && redis >= local * 0.95 ? redis : Math.max(redis ?? 0, local);
}
