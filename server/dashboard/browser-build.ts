// esbuild options of the browser chunks (tx-sdk.js, tx-helpers.js, tx-pixels.js), shared by the release build
// (scripts/build-clients.ts, which adds terser on top) and the server, which bundles them on first request
// (sdk-route.ts) with esbuild alone: terser is a build-time tool, not installed in production.
import type { BuildOptions } from 'esbuild';

export const COMMON_BUILD: BuildOptions = {
  bundle: true,
  write: false,
  legalComments: 'none',
  logLevel: 'silent',
  charset: 'utf8',
};

/**
 * Members named with a trailing underscore are the SDK's private ones (never on the wire, in storage or in
 * another chunk's reach): esbuild shortens them, which neither minifying nor gzip does for property names.
 */
export const BROWSER_BUILD: BuildOptions = { ...COMMON_BUILD, platform: 'browser', target: ['es2020', 'chrome91', 'firefox78', 'safari13.1'], minify: true, mangleProps: /_$/ };

/** The browser chunks a page loads with <script src> or imports: served file → entry point under client/sdk. */
export const BROWSER_CHUNKS: Record<string, { entry: string; format: 'iife' | 'esm' }> = {
  'tx-sdk.js': { entry: 'client/sdk/iife.ts', format: 'iife' },
  'tx-sdk.mjs': { entry: 'client/sdk/index.ts', format: 'esm' },
  'tx-helpers.js': { entry: 'client/sdk/helpers-iife.ts', format: 'iife' },
  'tx-helpers.mjs': { entry: 'client/sdk/helpers.ts', format: 'esm' },
  'tx-pixels.js': { entry: 'client/sdk/pixels-iife.ts', format: 'iife' },
  'tx-pixels.mjs': { entry: 'client/sdk/pixels.ts', format: 'esm' },
};
