// Which store errors mean "the database is unavailable" (spool, 503, /health degraded) and which are the
// statement's own (500 or the route's 400): isUnavailable, and openPostgres classifying a refused connection.
import { describe, expect, it } from 'vitest';
import { createReachability, isUnavailable, StoreUnavailableError } from './db.js';

/** An error as `pg` raises it from a server's ErrorResponse. */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('isUnavailable', () => {
  it('anything raised while establishing a connection is unavailability, whatever its SQLSTATE or kind', () => {
    for (const err of [
      pgError('55000', 'database "tx" is not currently accepting connections'),
      pgError('3D000', 'database "tx" does not exist'),
      pgError('28P01', 'password authentication failed for user "tx"'),
      pgError('28000', 'no pg_hba.conf entry for host "10.0.0.1"'),
      pgError('53300', 'sorry, too many clients already'),
      pgError('57P03', 'the database system is starting up'),
      pgError('XX000', 'something the server never said before'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('timeout exceeded when trying to connect'),
      new Error('an error without a code'),
      'a thrown string',
    ]) {
      expect(isUnavailable(err, 'connect')).toBe(true);
    }
  });

  it('a statement error is unavailability when it says the server or the connection went away', () => {
    for (const err of [
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P02', 'terminating connection because of crash of another server process'),
      pgError('08006', 'connection failure'),
      pgError('53100', 'could not extend file: No space left on device'),
      pgError('58030', 'could not write to file'),
      // Only ever answered at connection start: reaching here through a pool that connects on the statement.
      pgError('55000', 'database "tx" is not currently accepting connections'),
      pgError('3D000', 'database "tx" does not exist'),
      pgError('28P01', 'password authentication failed for user "tx"'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
      new StoreUnavailableError('database unreachable'),
    ]) {
      expect(isUnavailable(err)).toBe(true);
    }
  });

  it('an ordinary statement error stays the statement\'s (a 500 or the route\'s answer, never a spool)', () => {
    for (const err of [
      pgError('23505', 'duplicate key value violates unique constraint "tx_events_pkey"'),
      pgError('23503', 'insert or update on table "x" violates foreign key constraint'),
      pgError('42601', 'syntax error at or near "SELEC"'),
      pgError('42P01', 'relation "nope" does not exist'),
      pgError('22P02', 'invalid input syntax for type uuid: "x"'),
      pgError('40P01', 'deadlock detected'),
      // 55000 is also an ordinary statement error: only the connection refusal's is unavailability.
      pgError('55000', 'cannot ALTER TABLE "t" because it is being used by active queries in this session'),
      pgError('55P03', 'could not obtain lock on row in relation "t"'),
      new Error('an error without a code'),
      null,
      'a thrown string',
    ]) {
      expect(isUnavailable(err)).toBe(false);
      expect(isUnavailable(err, 'statement')).toBe(false);
    }
  });
});

describe('createReachability (what /health reports besides the writer)', () => {
  it('the last outcome wins: an unavailable failure makes it unreachable, any success reachable again', () => {
    const r = createReachability(() => 0);
    expect(r.reachable()).toBe(true);
    r.record(false);
    expect(r.reachable()).toBe(false);
    r.record(true);
    expect(r.reachable()).toBe(true);
  });

  it('asks the store itself only when nothing ran for the interval, one probe at a time, waiting at most maxWaitMs', async () => {
    let t = 0;
    const r = createReachability(() => t, 3_000);
    let probes = 0;
    const fails = async () => {
      probes++;
      r.record(false);
    };
    expect(await r.check(fails, 50)).toBe(true);
    expect(probes).toBe(0);
    t = 3_000;
    expect(await r.check(fails, 50)).toBe(false);
    expect(probes).toBe(1);
    // Just probed: not again before the interval, whatever it found.
    t = 4_000;
    expect(await r.check(fails, 50)).toBe(false);
    expect(probes).toBe(1);
    // A statement's outcome counts like a probe's and restarts the interval.
    t = 6_500;
    r.record(true);
    t = 8_000;
    expect(await r.check(fails, 50)).toBe(true);
    expect(probes).toBe(1);

    // A probe that hangs: answered with what is known after maxWaitMs, and none other starts meanwhile.
    t = 10_000;
    let release!: () => void;
    const hangs = () => {
      probes++;
      return new Promise<void>((resolve) => (release = resolve));
    };
    expect(await r.check(hangs, 20)).toBe(true);
    t = 20_000;
    expect(r.probeDue()).toBe(false);
    expect(await r.check(hangs, 20)).toBe(true);
    expect(probes).toBe(2);
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(r.probeDue()).toBe(true);
    // A probe that throws (it never should) does not make check throw.
    expect(await r.check(() => Promise.reject(new Error('boom')), 20)).toBe(true);
  });
});
