// The live folder has no import cycle: the parts (transports, mirror, tick loop, erase protocol) depend on
// core.ts's contracts, and only index.ts (createLive) assembles them. Type-only imports count too: a cycle of
// types is the same knot for a reader, and the next one is a runtime cycle.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DIR = path.dirname(fileURLToPath(import.meta.url));
const IMPORT_RE = /^\s*(?:import|export)\s[^'"]*?from\s+'(\.\/[^']+)\.js'/gm;

/** module → the modules of this folder it imports (tests left out: they may import anything). */
export function liveImports(dir = DIR): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of fs.readdirSync(dir)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.endsWith('.d.ts')) continue;
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    const deps = [...text.matchAll(IMPORT_RE)].map((m) => m[1].slice(2));
    graph.set(file.slice(0, -3), [...new Set(deps)]);
  }
  return graph;
}

/** The first cycle found (as a path a → … → a), or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe('live imports', () => {
  it('finds a cycle when there is one (the check itself)', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b']], ['b', []]]))).toBeNull();
  });

  it('server/live has no import cycle, and nothing but the assembly imports index.ts', () => {
    const graph = liveImports();
    expect(graph.get('core')).toBeDefined();
    expect(findCycle(graph)).toBeNull();
    expect([...graph].filter(([, deps]) => deps.includes('index')).map(([n]) => n)).toEqual([]);
  });
});
