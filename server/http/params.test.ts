// The boundary parsers (pure): what Date.parse, decodeURIComponent and JSON.parse let through and Postgres
// or a recursive walk then refused with a 500.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyTime, checkBody, id, idFromJson, cursor, encodeCursor, int, listKind, MAX_CURSOR_TEXT, MAX_TIME_MS, MAX_VERSION, maxCursorLength, MIN_TIME_MS, nextCursor, pageOf, parseIsoTime, pathSegments, queryProblem, text, time, unknownBodyField, type CursorPart } from './params.js';

describe('params', () => {
  it('accepts strict ISO-8601 only, within 1970..2199', () => {
    for (const bad of ['1', 'March 7', '2024-02-30T00:00:00Z', '2024-01-01T24:00:00Z', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2200-01-01T00:00:00Z', '2024-01-01T10:00:00', ' 2024-01-01']) {
      expect({ bad, ok: time('query', 'before', bad).ok }).toEqual({ bad, ok: false });
    }
    expect(time('query', 'before', '2024-01-01T10:00:00.123456+02:00')).toEqual({ ok: true, value: Date.UTC(2024, 0, 1, 8, 0, 0, 123) });
    expect(time('query', 'before', '2024-02-29')).toEqual({ ok: true, value: Date.UTC(2024, 1, 29) });
    expect(time('query', 'to', '1700000000000', { epochMs: true })).toEqual({ ok: true, value: 1_700_000_000_000 });
    expect(parseIsoTime('2023-02-29T00:00:00Z')).toBeNull();
  });

  it('reads the year as written: 0000-0099 stay years 0-99 (Date.UTC would move them to 1900-1999)', () => {
    expect(new Date(parseIsoTime('0026-11-20T00:00:00Z')!).toISOString()).toBe('0026-11-20T00:00:00.000Z');
    expect(new Date(parseIsoTime('0099-01-01')!).toISOString()).toBe('0099-01-01T00:00:00.000Z');
    expect(new Date(parseIsoTime('0000-02-29T10:00:00+02:00')!).toISOString()).toBe('0000-02-29T08:00:00.000Z'); // year 0 is a leap year
    expect(parseIsoTime('1900-02-29')).toBeNull();
    // Every instant of years 0000-9999 written as ISO-8601 (the full form and the day alone) reads back as itself.
    fc.assert(
      fc.property(fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (d) => {
        const iso = d.toISOString();
        expect(parseIsoTime(iso)).toBe(d.getTime());
        expect(parseIsoTime(iso.slice(0, 10))).toBe(Date.parse(`${iso.slice(0, 10)}T00:00:00.000Z`));
      }),
      { numRuns: 2000 },
    );
  });

  it('bodyTime: a JSON body\'s date in the query dates\' range (1970-2199), else a 400 naming the field', () => {
    expect(bodyTime('start', '2026-11-20T00:00:00Z')).toEqual({ ok: true, value: Date.UTC(2026, 10, 20) });
    for (const raw of ['0026-11-20T00:00:00Z', '0099-01-01', '1969-12-31T23:59:59.999Z', '2200-01-01', '9999-12-31']) {
      expect(bodyTime('start', raw)).toMatchObject({ ok: false, error: { code: 'invalid_field', in: 'body', field: 'start', message: expect.stringContaining('between 1970-01-01 and 2199-12-31') } });
    }
    for (const raw of ['March 7', '', 17, null, '2026-11-31', `2026-01-01T00:00:00.${'0'.repeat(40)}Z`]) {
      expect(bodyTime('to', raw, 'an ISO-8601 time')).toMatchObject({ ok: false, error: { field: 'to', message: 'to must be an ISO-8601 time.' } });
    }
    fc.assert(
      fc.property(fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (d) => {
        const ms = d.getTime();
        expect(bodyTime('f', d.toISOString())).toEqual(ms >= MIN_TIME_MS && ms < MAX_TIME_MS ? { ok: true, value: ms } : expect.objectContaining({ ok: false }));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses NUL, control characters and over-long text with the field and where it came from', () => {
    expect(text('query', 'visitor_id', '\u0000', { max: 64 })).toMatchObject({ ok: false, error: { code: 'invalid_field', in: 'query', field: 'visitor_id' } });
    expect(text('query', 'visitor_id', 'a\nb', { max: 64 }).ok).toBe(false);
    expect(text('query', 'visitor_id', 'x'.repeat(65), { max: 64 }).ok).toBe(false);
    expect(text('query', 'visitor_id', 'ü-😀', { max: 64 })).toEqual({ ok: true, value: 'ü-😀' });
    expect(text('query', 'visitor_id', null, { max: 64 })).toEqual({ ok: true, value: null });
  });

  it('bounds integers', () => {
    expect(int('query', 'limit', '1e3', { min: 1, max: 1000 }).ok).toBe(false);
    expect(int('query', 'limit', '99999999999999999999', { min: 1, max: 1000 }).ok).toBe(false);
    expect(int('query', 'limit', '', { min: 1, max: 1000, def: 100 })).toEqual({ ok: true, value: 100 });
  });

  it('turns malformed percent-encoding in a path into a 400 instead of a URIError', () => {
    expect(pathSegments('/api/v1/sessions/%ZZ')).toMatchObject({ ok: false, error: { in: 'path' } });
    expect(pathSegments('/api/v1/sessions/%ED%A0%80').ok).toBe(false);
    expect(pathSegments('/api/v1/sessions/a%20b')).toEqual({ ok: true, value: ['api', 'v1', 'sessions', 'a b'] });
  });

  it('checks 10,000-deep JSON without overflowing the stack, and names the path of a NUL', () => {
    const deep = JSON.parse(`{"events":[${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}]}`);
    expect(checkBody(deep)).toMatchObject({ code: 'too_deep', in: 'body' });
    expect(checkBody({ events: [{ payload: { x: 'a\u0000' } }] })).toMatchObject({ field: 'events[0].payload.x' });
    expect(checkBody({ events: [{ payload: { x: 'a\u0000' } }] }, { strings: false })).toBeNull();
    expect(checkBody({ ok: ['\n', 'ü'] })).toBeNull();
  });

  it('round-trips cursors and refuses forged ones or another list\'s', () => {
    const c = encodeCursor('events', ['2026-01-01T00:00:00.123456', '42']);
    expect(cursor(c, 'events', ['ts', 'id'])).toEqual({ ok: true, value: ['2026-01-01T00:00:00.123456', '42'] });
    expect(cursor(c, 'sessions', ['ts', 'text']).ok).toBe(false);
    for (const key of [['0000-01-01T00:00:00.000000', '1'], ['2026-01-01T00:00:00.000000', '1 OR 1=1'], ['2026-01-01', '1']]) {
      expect(cursor(encodeCursor('events', key), 'events', ['ts', 'id']).ok).toBe(false);
    }
  });

  it('names the query parameter the cursor came in (?log_cursor=, not always cursor) and the field its value is read from', () => {
    expect(cursor('zzz', 'campaign_log', ['id'], 'log_cursor')).toMatchObject({ ok: false, error: { in: 'query', field: 'log_cursor', message: expect.stringMatching(/^log_cursor must be a log_next_cursor value/) } });
    expect(cursor('zzz', 'campaign_log', ['id'])).toMatchObject({ ok: false, error: { field: 'cursor', message: expect.stringMatching(/^cursor must be a next_cursor value/) } });
  });

  // A cursor of the largest key each part type allows, under the longest kinds the lists make, comes back whole:
  // with a fixed cap of 512 characters, a catalog list refused its own next_cursor after a 128-character CJK id.
  it('takes back every cursor a list can make, however long its key', () => {
    const ts = '2199-12-31T23:59:59.999999';
    const id = '9'.repeat(18);
    const version = String(MAX_VERSION);
    const texts = [
      '顾'.repeat(MAX_CURSOR_TEXT), // 3 bytes of UTF-8 per UTF-16 unit: the most a valid text part takes
      '\u2028'.repeat(MAX_CURSOR_TEXT), // JSON.stringify leaves U+2028 unescaped: 3 bytes
      '😀'.repeat(MAX_CURSOR_TEXT / 2), // astral: 4 bytes per 2 units
      '"'.repeat(MAX_CURSOR_TEXT), // escaped: 2 bytes each
      '\\'.repeat(MAX_CURSOR_TEXT),
      `${'顾'.repeat(MAX_CURSOR_TEXT - 1)}"`,
    ];
    const kinds = [
      'catalog_organizers', 'sessions', 'events', `admin_keys:${Number.MAX_SAFE_INTEGER}`, `remarketing_members_${Number.MAX_SAFE_INTEGER}`,
      `segment_${Number.MAX_SAFE_INTEGER}`, `job_runs:${'j'.repeat(64)}`,
      listKind('events', { before: MAX_TIME_MS - 1, event_name: 'x'.repeat(100), visitor_id: '顾'.repeat(64), event_entity_id: '顾'.repeat(128) }),
    ];
    const shapes: [CursorPart[], string[][]][] = [
      [['text'], texts.map((t) => [t])],
      [['ts', 'text'], texts.map((t) => [ts, t])],
      [['ts', 'id'], [[ts, id]]],
      [['version', 'id'], [[version, id]]],
      [['id'], [[id]]],
    ];
    for (const kind of kinds) {
      for (const [parts, keys] of shapes) {
        for (const key of keys) {
          const c = encodeCursor(kind, key);
          expect({ kind, key, fits: c.length <= maxCursorLength(kind, parts) }).toEqual({ kind, key, fits: true });
          expect(cursor(c, kind, parts)).toEqual({ ok: true, value: key });
        }
      }
    }
    // The case that was refused: a 128-character CJK catalog id is a cursor longer than 512 characters.
    const cjk = encodeCursor('catalog_persons', ['顾'.repeat(128)]);
    expect(cjk.length).toBeGreaterThan(512);
    expect(cursor(cjk, 'catalog_persons', ['text']).ok).toBe(true);
    // Still bounded: a cursor one character past the longest possible one is refused before it is decoded.
    expect(cursor('A'.repeat(maxCursorLength('catalog_persons', ['text']) + 1), 'catalog_persons', ['text']).ok).toBe(false);
  });

  it('listKind ties a cursor to the filters of the page it came from', () => {
    // No filter set: the list's kind as before, so unfiltered cursors are unchanged.
    expect(listKind('events', {})).toBe('events');
    expect(listKind('events', { visitor_id: null, event_name: undefined })).toBe('events');
    // The same filters in another order, or as the same string, are one kind; any other value is another.
    expect(listKind('sessions', { visitor_id: 'v', person_id: 7 })).toBe(listKind('sessions', { person_id: 7, visitor_id: 'v', x: null }));
    expect(listKind('sessions', { visitor_id: 'v' })).not.toBe(listKind('sessions', { visitor_id: 'w' }));
    expect(listKind('sessions', { visitor_id: 'v' })).not.toBe(listKind('sessions', { person_id: 'v' }));
    const key = ['2026-01-01T00:00:00.000000', '5'];
    const filtered = listKind('events', { event_entity_id: 'EPG' });
    const c = encodeCursor(filtered, key);
    expect(cursor(c, filtered, ['ts', 'id'])).toEqual({ ok: true, value: key });
    // Under other filters, or none, it is refused naming cursor and saying why; another list's is refused as before.
    const other = { ok: false, error: { code: 'invalid_field', in: 'query', field: 'cursor', message: expect.stringMatching(/other filters: send the same filters/) } };
    expect(cursor(c, listKind('events', { visitor_id: 'vss' }), ['ts', 'id'])).toMatchObject(other);
    expect(cursor(c, 'events', ['ts', 'id'])).toMatchObject(other);
    expect(cursor(encodeCursor('events', key), filtered, ['ts', 'id'])).toMatchObject(other);
    expect(cursor(c, listKind('rejected', { event_entity_id: 'EPG' }), ['ts', 'id'])).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^cursor must be a next_cursor value returned by this list/) } });
    expect(cursor(encodeCursor(listKind('campaign_log', { a: '1' }), ['5']), listKind('campaign_log', { a: '2' }), ['id'], 'log_cursor')).toMatchObject({ ok: false, error: { field: 'log_cursor', message: expect.stringMatching(/^log_cursor was made .* log_next_cursor/) } });
  });

  it('names an unknown body field in the message, not only in field', () => {
    expect(unknownBodyField('kinds', 'a new key takes kind.')).toEqual({ code: 'invalid_field', in: 'body', field: 'kinds', message: 'Unknown field "kinds"; a new key takes kind.' });
    expect(unknownBodyField('x'.repeat(60), 'y').field).toBe('x'.repeat(40));
  });
});

describe('keyset pages', () => {
  // A list asks its query for limit + 1 rows: the extra row only says that a next page exists.
  it('pageOf keeps at most limit rows and says more only when the extra row came back', () => {
    expect(pageOf([1, 2, 3, 4], 3)).toEqual({ rows: [1, 2, 3], more: true });
    // Exactly full: the last page (deciding by rows.length === limit gave it a cursor to an empty page).
    expect(pageOf([1, 2, 3], 3)).toEqual({ rows: [1, 2, 3], more: false });
    expect(pageOf([1, 2], 3)).toEqual({ rows: [1, 2], more: false });
    expect(pageOf([], 3)).toEqual({ rows: [], more: false });
    expect(pageOf([1, 2], 1)).toEqual({ rows: [1], more: true });
  });

  it('nextCursor is built from the last returned row, never the extra one, and is null on the last page', () => {
    const rows = [{ id: 7 }, { id: 8 }, { id: 9 }];
    expect(nextCursor('keys', pageOf(rows, 2), (r) => [r.id])).toBe(encodeCursor('keys', ['8']));
    expect(cursor(nextCursor('keys', pageOf(rows, 2), (r) => [r.id]), 'keys', ['id'])).toEqual({ ok: true, value: ['8'] });
    expect(nextCursor('keys', pageOf(rows, 3), (r) => [r.id])).toBeNull();
    expect(nextCursor('keys', pageOf(rows, 4), (r) => [r.id])).toBeNull();
    expect(nextCursor('keys', pageOf([] as { id: number }[], 2), (r) => [r.id])).toBeNull();
  });
});

describe('queryProblem', () => {
  it('names the parameter whose percent-encoding is not valid UTF-8', () => {
    for (const [q, field] of [['bucket=day&bucket=hour', 'bucket'], ['a=1&b=2&a=1', 'a'], ['visitor_id=%ZZ', 'visitor_id'], ['a=1&visitor_id=%E0%A4', 'visitor_id'], ['x=%ED%A0%80', 'x'], ['na%ZZme=1', 'na%ZZme'], ['limit=5&q=%', 'q']]) {
      expect(queryProblem(q), q).toMatchObject({ code: 'invalid_field', in: 'query', field });
    }
  });
  it('passes valid encodings, plus signs and empty values', () => {
    for (const q of ['', 'a=1', 'name=caf%C3%A9', 'q=a+b&x=', 'e=%F0%9F%8E%AB', 'flag']) expect(queryProblem(q), q).toBeNull();
  });
});

describe('idFromJson', () => {
  it('takes a numeric id as its decimal text only while JSON kept every digit (0 to 2^53-1)', () => {
    expect(idFromJson('event_id', 42)).toEqual({ ok: true, value: '42' });
    expect(idFromJson('event_id', Number.MAX_SAFE_INTEGER)).toEqual({ ok: true, value: '9007199254740991' });
    expect(idFromJson('event_id', 'E1')).toEqual({ ok: true, value: 'E1' });
    expect(idFromJson('event_id', undefined)).toEqual({ ok: true, value: undefined });
  });
  it('refuses numbers that would name another id (past 2^53, fractions, negatives, exponents), naming the field and the fix', () => {
    for (const n of [JSON.parse('9007199254740993'), 1e21, 1.5, -1, -0.5]) {
      const r = idFromJson('organizer_id', n);
      expect(r.ok, String(n)).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/^organizer_id is a number .*send larger numeric ids as strings/);
    }
  });
});

describe('database ids', () => {
  it('takes one spelling per id: leading zeros are refused so "01" cannot erase or audit as id 1', () => {
    expect(id('path', 'person_id', '1')).toEqual({ ok: true, value: 1 });
    expect(id('path', 'person_id', String(Number.MAX_SAFE_INTEGER))).toEqual({ ok: true, value: Number.MAX_SAFE_INTEGER });
    for (const raw of ['01', '007', '00']) {
      const r = id('path', 'person_id', raw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ field: 'person_id', in: 'path', message: expect.stringContaining('leading zeros') });
    }
    expect(id('query', 'tenant_id', '0').ok).toBe(false);
  });
});
