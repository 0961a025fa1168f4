// Storage adapters for the scanner tracker's offline queue. The interface is the subset of React Native's
// AsyncStorage the tracker uses, so `AsyncStorage` itself (from @react-native-async-storage/async-storage)
// can be passed as is. MemoryStorage is for tests and throwaway tools; FileStorage (./file-storage.ts) for
// Node.

export interface StorageAdapter {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
  /**
   * Every key stored (AsyncStorage's own method). Optional, but without it a lost or corrupt queue meta can
   * only be recovered from page 0 onwards: the queue lists its page keys with it to recover them all.
   */
  getAllKeys?(): Promise<readonly string[]>;
  /** Releases the adapter (FileStorage: its directory lock); called by the tracker's close(). Optional. */
  close?(): Promise<void>;
}

export class MemoryStorage implements StorageAdapter {
  readonly map = new Map<string, string>();
  async getItem(key: string): Promise<string | null> {
    return this.map.has(key) ? this.map.get(key)! : null;
  }
  async setItem(key: string, value: string): Promise<void> {
    this.map.set(key, value);
  }
  async removeItem(key: string): Promise<void> {
    this.map.delete(key);
  }
  async getAllKeys(): Promise<string[]> {
    return [...this.map.keys()];
  }
}
