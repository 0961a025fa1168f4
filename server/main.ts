// `npm start`: validate the environment, start the server, print how to use it.
import { ConfigError, loadConfig } from './config/index.js';
import { startServer } from './app.js';
import { createLogger } from './log.js';

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let server;
  try {
    server = await startServer(config, { log });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'startup failed');
    console.error(`\nTixello Live could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  const running = server;
  // Before the banner: whoever waits for "listening on" may signal at once, and a signal that arrives before
  // the handlers exist kills the process without closing the store or releasing DATA_DIR's lock.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await running.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const base = `http://localhost:${server.port}`;
  const lines = [
    '',
    `Tixello Live is listening on ${base}  (store: ${server.db.kind})`,
    `  health:    ${base}/health`,
    `  registry:  ${base}/api/tx/schema`,
    `  dashboard: ${base}/dashboard  (run \`npm run demo\` in another terminal for live demo traffic and sign-in links)`,
    `  admin:     Authorization: Bearer ${server.adminToken}`,
  ];
  if (server.demo) {
    lines.push(
      `  demo tenant ${server.demo.tenant_id}: write key ${server.demo.write_key}`,
      `                 secret key ${server.demo.secret_key}`,
      '',
      // A browser's event (with a browser's User-Agent: curl's own is flagged as a bot and kept out of live numbers).
      'Post an event (a visitor viewing event E1):',
      `  curl -s ${base}/api/tx/events -H 'Content-Type: application/json' -H 'X-Tx-Key: ${server.demo.write_key}' -A 'Mozilla/5.0 (X11; Linux x86_64)' \\`,
      `    -d '{"event_id":"'$(cat /proc/sys/kernel/random/uuid)'","event_name":"event_view","occurred_at":"'$(date -u +%FT%TZ)'","source_system":"web","visitor_id":"v1","session_id":"s1","consent_snapshot":{"analytics":true,"marketing":false,"data_processing":true},"entities":{"event_entity_id":"E1","organizer_id":"O1"},"payload":{"price_from":60,"currency":"EUR"}}'`,
      'Read it back:',
      `  curl -s '${base}/api/v1/tx/events?limit=5' -H 'Authorization: Bearer ${server.demo.secret_key}'`,
    );
  }
  console.log(lines.join('\n') + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
