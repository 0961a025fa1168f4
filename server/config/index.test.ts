import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

describe('loadConfig', () => {
  it('gives a runnable embedded default from an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, dataDir: './data', databaseUrl: null, redisUrl: null, adminToken: null, uwsAllowFallback: false });
    expect(c.limits).toMatchObject({ maxEventBytes: 32768, maxBatchEvents: 100, maxBodyBytes: 524288, backfillDays: 7 });
  });

  it('bounds the live state: LIVE_MAX_EVENTS per tenant per day (20,000) and LIVE_MAX_GATE_LANES per event (1,000), both settable', () => {
    expect(loadConfig({}).live).toMatchObject({ maxEvents: 20_000, maxGateLanes: 1_000 });
    expect(loadConfig({ LIVE_MAX_EVENTS: '50000', LIVE_MAX_GATE_LANES: '200' }).live).toMatchObject({ maxEvents: 50_000, maxGateLanes: 200 });
    expect(() => loadConfig({ LIVE_MAX_EVENTS: '0' })).toThrow(/LIVE_MAX_EVENTS/);
  });

  it('reports every problem at once, each with how to fix it', () => {
    const err = thrown(() => loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', MAX_BATCH_EVENTS: '0', UWS_ALLOW_FALLBACK: 'maybe' }));
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT="eighty" must be an integer between 0 and 65535/);
    expect(problems).toMatch(/DATABASE_URL must be a URL starting with postgres:\/\//);
    expect(problems).toMatch(/MAX_BATCH_EVENTS/);
    expect(problems).toMatch(/UWS_ALLOW_FALLBACK/);
  });

  it('refuses a BACKFILL_DAYS that reaches past raw-event retention (accepted events would be deleted by the next retention run)', () => {
    expect(() => loadConfig({ BACKFILL_DAYS: '90', RETENTION_MONTHS: '3' })).toThrow(/BACKFILL_DAYS=90 must be less than RETENTION_MONTHS × 28 days \(84\)/);
    expect(loadConfig({ BACKFILL_DAYS: '83', RETENTION_MONTHS: '3' }).limits.backfillDays).toBe(83);
  });

  it('refuses an explicit WRITER_LANES that the pool cannot hold with DATABASE_URL; the default is fitted to the pool', () => {
    const pg = { DATABASE_URL: 'postgres://u:p@db/x', ADMIN_TOKEN: 'x'.repeat(20) };
    expect(() => loadConfig({ ...pg, WRITER_LANES: '20', DATABASE_POOL_MAX: '10' })).toThrow(/WRITER_LANES=20 needs DATABASE_POOL_MAX of at least 21/);
    expect(loadConfig({ ...pg, WRITER_LANES: '9', DATABASE_POOL_MAX: '10' }).writerLanes).toBe(9);
    expect(loadConfig({ ...pg, DATABASE_POOL_MAX: '2' }).writerLanes).toBe(4); // capped to the pool at start (app.ts)
    expect(loadConfig({ WRITER_LANES: '20' }).writerLanes).toBe(20); // the embedded store has one lane whatever it says
  });

  it('refuses a HOST that is neither an IP address nor a host name, saying what to set (it used to surface as "port in use")', () => {
    for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1', 'localhost', 'node-1.internal', 'tixello.example.com.']) {
      expect(loadConfig({ HOST: host }).host).toBe(host);
    }
    expect(loadConfig({}).host).toBe('0.0.0.0');
    for (const host of ['not..a..host', '300.1.1.1', '-node', 'a_b.local', 'http://x', '127.0.0.1:8080', 'x'.repeat(64)]) {
      expect(() => loadConfig({ HOST: host }), host).toThrow(/HOST=".*" must be an IP address or a host name of this machine: 0\.0\.0\.0 \(every IPv4 interface, the default\), :: \(every interface\)/);
    }
    expect(() => loadConfig({ HOST: '[::1]' })).toThrow(/an IPv6 address without the brackets/);
  });

  it('reports a bad META_GRAPH_URL / TIKTOK_API_URL once (campaigns and conversions share it), with the value and no password', () => {
    const err = (() => { try { loadConfig({ META_GRAPH_URL: 'ftp://x', TIKTOK_API_URL: 'http://u:secret@' }); } catch (e) { return e as ConfigError; } return null; })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.filter((p) => p.startsWith('META_GRAPH_URL'))).toEqual(['META_GRAPH_URL must be a URL starting with https:// or http:// (got "ftp://x")']);
    expect(err!.problems.filter((p) => p.startsWith('TIKTOK_API_URL'))).toHaveLength(1);
    expect(err!.problems.join('\n')).not.toContain('secret');
    const ok = loadConfig({ META_GRAPH_URL: 'http://127.0.0.1:9114/', TIKTOK_API_URL: 'http://127.0.0.1:9115' });
    expect([ok.conversions.meta, ok.campaigns.urls.meta, ok.conversions.tiktok]).toEqual(['http://127.0.0.1:9114', 'http://127.0.0.1:9114', 'http://127.0.0.1:9115']);
  });

  it('takes a METRICS_TOKEN of at least 16 characters for scrapers', () => {
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(16) }).metricsToken).toBe('m'.repeat(16));
    expect(loadConfig({}).metricsToken).toBeNull();
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
  });

  it('requires a shared ADMIN_TOKEN with an external database and never echoes passwords', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u:secret@db/x' })).toThrow(/ADMIN_TOKEN is required with DATABASE_URL/);
    // The assertion must not sit in a catch: if nothing were thrown, it would never run.
    const bad = thrown(() => loadConfig({ REDIS_URL: 'http://u:secret@r' }));
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as Error).message).toMatch(/REDIS_URL/);
    expect((bad as Error).message).not.toContain('secret');
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db/x', ADMIN_TOKEN: 'x'.repeat(20) }).databaseUrl).toBe('postgres://u:p@db/x');
  });
});

/** The error fn throws; fails the test when it throws nothing. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, got none');
}
