// Ids are text without control characters (README "Catalog"): C0 (NUL included), DEL and C1 (U+0080–U+009F),
// the same in every place that takes one: the catalog, key scopes, topics, token requests, path parameters.
import { describe, expect, it } from 'vitest';
import { parseScope } from '../authz/principal.js';
import { checkItems } from '../catalog/schemas.js';
import { parseTokenRequest } from '../live/token.js';
import { parseTopic } from '../live/topics.js';
import { topicId } from '../live/routes.js';
import { isIdText, stringProblem } from './params.js';

const BAD = ['a\u0000b', 'a\u001fb', 'a\u007fb', 'a\u0080b', 'a\u0085b', 'a\u009fb'];
const GOOD = ['a b', 'a:b', 'é', 'a\u00a0b', '日本'];

describe('ids without control characters, one rule everywhere', () => {
  it('refuses C0, DEL and C1 and takes other text', () => {
    for (const s of BAD) {
      expect(isIdText(s), JSON.stringify(s)).toBe(false);
      expect(stringProblem(s)).not.toBeNull();
      expect(checkItems('organizers', [{ id: s, name: 'x' }]).rejected).toHaveLength(1);
      expect(checkItems('artists', [{ id: 'A', genres: [s] }]).rejected).toHaveLength(1);
      expect(parseScope({ organizers: [s] }).ok).toBe(false);
      expect(parseTopic(`analytics:event:${s}`)).toBeNull();
      expect(topicId('path', 'event_id', s).ok).toBe(false);
      expect(parseTokenRequest(1, { role: 'organizer', org_id: s }).ok).toBe(false);
    }
    for (const s of GOOD) {
      expect(isIdText(s)).toBe(true);
      expect(checkItems('organizers', [{ id: s, name: 'x' }]).rejected).toEqual([]);
      expect(parseScope({ organizers: [s] }).ok).toBe(true);
      expect(parseTopic(`analytics:event:${s}`)).not.toBeNull();
      expect(topicId('path', 'event_id', s).ok).toBe(true);
      expect(parseTokenRequest(1, { role: 'organizer', org_id: s }).ok).toBe(true);
    }
    expect(isIdText('x'.repeat(128))).toBe(true);
    expect(isIdText('x'.repeat(129))).toBe(false);
    expect(isIdText('')).toBe(false);
  });
});
