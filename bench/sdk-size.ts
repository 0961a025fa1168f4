// What each behaviour of the browser SDK's core costs in tx-sdk.js (min+gzip), measured by building a copy of
// client/ with that behaviour stubbed out, with the build's own pipeline (scripts/build-clients.ts: esbuild,
// then terser).
// Answers "what would the 6 KB budget cost"; the copies are never shipped or tested.
//
//   npx tsx bench/sdk-size.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildBrowserChunk, SDK_BUDGET_GZIP } from '../scripts/build-clients.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** A source edit: in `file` (under client/), the first match of `find` becomes `put`. */
type Edit = [file: string, find: RegExp, put: string];

const NO_IMPRESSIONS: Edit = ['sdk/tracker.ts', /    this\.observeImpressions = .*?\n    \};\n/s, ''];
const NO_METHODS: Edit = ['sdk/tracker.ts', /for \(const n of WEB_EVENTS\.split\(' '\)\) \{.*?\n\}\n/s, ''];
const NO_ADOPTION: Edit[] = [
  ['sdk/tab-queue.ts', /  async adopt_\(\) \{.*?\n  \}\n/s, '  async adopt_() {}\n'],
  ['sdk/tabs.ts', /  async dead_\(ids: string\[\]\).*?\n  \}\n/s, '  async dead_(ids: string[]): Promise<[string[], string[]]> {\n    return [ids, []];\n  }\n'],
];

// Page type and device detection, SDK 1.1's third variant, left the core in SDK 1.2: the server derives them.
const VARIANTS: [string, Edit[]][] = [
  ['as built (every behaviour)', []],
  ['without tx.observeImpressions', [NO_IMPRESSIONS]],
  ['without the per-event methods (track() only)', [NO_METHODS]],
  ['without dead-tab adoption and the SDK 1.0 queue', NO_ADOPTION],
  ['without impressions and per-event methods', [NO_IMPRESSIONS, NO_METHODS]],
];

async function size(edits: Edit[]): Promise<{ bytes: number; gzip: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txl-sdk-size-'));
  try {
    fs.cpSync(path.join(ROOT, 'client'), path.join(dir, 'client'), { recursive: true, filter: (p) => !p.includes(`${path.sep}dist`) });
    // "type": "module" as in the repository: without it esbuild wraps each module in a lazy initializer.
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    for (const [file, find, put] of edits) {
      const p = path.join(dir, 'client', file);
      const src = fs.readFileSync(p, 'utf8');
      const out = src.replace(find, put);
      if (out === src) throw new Error(`bench/sdk-size: ${find} no longer matches ${file}; update the variant`);
      fs.writeFileSync(p, out);
    }
    const code = await buildBrowserChunk({ entryPoints: [path.join(dir, 'client/sdk/iife.ts')], format: 'iife' });
    return { bytes: code.length, gzip: zlib.gzipSync(code, { level: 9 }).length };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const base = await size([]);
console.log(`tx-sdk.js variants (budget ${SDK_BUDGET_GZIP} B; issue 17 asks for at most ${6 * 1024} B)\n`);
console.log('| variant | minified B | min+gzip B | Δ gzip |');
console.log('|:---|---:|---:|---:|');
for (const [name, edits] of VARIANTS) {
  const s = edits.length ? await size(edits) : base;
  console.log(`| ${name} | ${s.bytes} | ${s.gzip} | ${s.gzip - base.gzip} |`);
}
