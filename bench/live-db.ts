// Child process of bench/live.ts: the embedded TimescaleDB (PGlite) served over the Postgres wire protocol,
// so the benchmarked server talks to its store over a socket (like production) and PGlite's WASM work
// does not run on the server's event loop.
import { wireDatabase } from '../test/helpers.js';

const db = await wireDatabase();
process.send!({ url: db.url });
process.on('message', async (m: { cmd: string }) => {
  if (m.cmd === 'exit') {
    await db.close();
    process.exit(0);
  }
});
