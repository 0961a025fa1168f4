// Types for the CommonJS package `hyperloglog-lite` (no bundled types).
declare module 'hyperloglog-lite' {
  export interface HllState {
    n: number;
    buckets: Buffer;
  }
  export interface Hll {
    add(hash: number[] | null): Hll;
    count(): number;
    relative_error(): number;
    output(): HllState;
    merge(data: HllState): void;
  }
  interface HyperLogLogFactory {
    (n: number): Hll;
    hash(value: string): number[];
  }
  const HyperLogLog: HyperLogLogFactory;
  export default HyperLogLog;
}
