// IIFE entry of the pixel loader (dist/tx-pixels.js): defines window.TxPixels. With data attributes, after the
// SDK's own tag started window.tx, it also attaches itself as window.txPixels (nothing loads before consent):
//   <script src="tx-pixels.js" nonce="…" data-key="tx_pk_…" data-endpoint="https://live.example.com" data-event="E1"></script>
import { TxPixels } from './pixels.js';
import type { TxTracker } from './tracker.js';

const w = window as unknown as { TxPixels: typeof TxPixels; tx?: TxTracker; txPixels?: TxPixels };
w.TxPixels = TxPixels;
const s = document.currentScript as HTMLScriptElement | null;
const d = s && s.dataset;
if (s && d && d.key && w.tx) {
  w.txPixels = new TxPixels(w.tx, { writeKey: d.key, endpoint: d.endpoint, eventId: d.event, organizerId: d.organizer, nonce: s.nonce || undefined });
}
