// Storage adapters for the scanner tracker's offline queue. The interface is the subset of React Native's
// AsyncStorage the tracker uses, so `AsyncStorage` itself (from @react-native-async-storage/async-storage)
// can be passed as is. MemoryStorage is for tests and throwaway tools; FileStorage (./file-storage.ts) for
// Node.

export interface StorageAdapter {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
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
}
