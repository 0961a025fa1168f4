// Scanner tracker for gate apps (React Native, Node). FileStorage lives in ./file-storage.js (Node only).
export { TxScannerTracker, SCANNER_VERSION } from './tracker.js';
export type { ScannerConfig, ScannerError, ScannerSession, StartSessionParams, ScanParams, ScanResult, ScanType, DenialReason } from './tracker.js';
export { MemoryStorage, type StorageAdapter } from './storage.js';
export { DurableQueue } from './queue.js';
