// Secrets a single embedded node may generate for itself: read from DATA_DIR/<file>, or created there once.
// Several nodes must share such secrets through the environment instead (loadConfig enforces that).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

export function persistedSecret(dataDir: string, file: string, bytes: number, envName: string, log: Logger): string {
  const p = path.join(dataDir, file);
  if (fs.existsSync(p)) return fs.readFileSync(p, 'utf8').trim();
  const secret = crypto.randomBytes(bytes).toString('hex');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(p, secret + '\n', { mode: 0o600 });
  log.warn({ file: p }, `${envName} not set: generated one and saved it in DATA_DIR (back it up with the data)`);
  return secret;
}
