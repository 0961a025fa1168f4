// IIFE entry: <script src="tx-sdk.js"></script> defines window.TxTracker. With data attributes the tag also
// starts a tracker as window.tx (page views automatic; nothing is sent before consent):
//   <script src="tx-sdk.js" data-key="tx_pk_…" data-endpoint="https://live.example.com" data-site="main"></script>
//   …then, from the consent banner: tx.setConsent({ analytics: true })
import { TxTracker } from './tracker.js';

const w = window as unknown as { TxTracker: typeof TxTracker; tx?: TxTracker };
w.TxTracker = TxTracker;
const s = document.currentScript as HTMLScriptElement | null;
const d = s?.dataset;
if (d?.key) w.tx = new TxTracker({ writeKey: d.key, endpoint: d.endpoint, siteId: d.site, debug: 'debug' in d, autoPageView: true });
