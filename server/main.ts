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
      'Post an event:',
      `  curl -s ${base}/api/tx/events -H 'Content-Type: application/json' -H 'X-Tx-Key: ${server.demo.write_key}' \\`,
      `    -d '{"event_id":"'$(cat /proc/sys/kernel/random/uuid)'","event_name":"order_completed","occurred_at":"'$(date -u +%FT%TZ)'","source_system":"backend","consent_snapshot":{"analytics":true,"marketing":false,"data_processing":true},"entities":{"order_id":"A1","event_entity_id":"E1"},"payload":{"gross_amount":120,"currency":"EUR","items":[{"ticket_type_id":"GA","qty":2,"price":60}]}}'`,
      'Read it back:',
      `  curl -s '${base}/api/v1/tx/events?limit=5' -H 'Authorization: Bearer ${server.demo.secret_key}'`,
    );
  }
  console.log(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
