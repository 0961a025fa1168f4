// Bodies of the segment routes: {"name","filters","marketing_only"?,"auto_refresh"?} to create, any subset to
// edit (each edit is a new version). Unknown fields are refused; filters go through the grammar. Pure.
import type { Parsed } from '../http/params.js';
import { bad, str, unknownField } from '../audiences/schemas.js';
import { isObj } from '../store/rows.js';
import { parseFilter, type Filter } from './grammar.js';

export interface SegmentBody {
  name?: string;
  filters?: Filter;
  marketingOnly?: boolean;
  autoRefresh?: boolean;
}

const FIELDS = ['name', 'filters', 'marketing_only', 'auto_refresh'];

function bool(v: unknown, field: string): Parsed<boolean | undefined> {
  if (v === undefined) return { ok: true, value: undefined };
  return typeof v === 'boolean' ? { ok: true, value: v } : bad(field, `${field} must be true or false.`);
}

export function parseSegment(v: unknown, opts: { create: boolean }): Parsed<SegmentBody> {
  if (!isObj(v)) return bad('', 'Send {"name":"…","filters":{…}} (README "Segments" has the grammar).');
  const unknown = unknownField(v, FIELDS);
  if (unknown) return unknown;
  const out: SegmentBody = {};
  if (opts.create || v.name !== undefined) {
    const n = str(v.name, 'name', 255, { required: true });
    if (!n.ok) return n;
    out.name = n.value;
  }
  if (opts.create || v.filters !== undefined) {
    const f = parseFilter(v.filters);
    if (!f.ok) return bad(f.error.field, f.error.message);
    out.filters = f.value;
  }
  const m = bool(v.marketing_only, 'marketing_only');
  if (!m.ok) return m;
  const a = bool(v.auto_refresh, 'auto_refresh');
  if (!a.ok) return a;
  out.marketingOnly = m.value;
  out.autoRefresh = a.value;
  if (!opts.create && Object.keys(v).length === 0) return bad('', 'Send at least one of name, filters, marketing_only, auto_refresh.');
  return { ok: true, value: out };
}
