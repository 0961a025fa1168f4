// Links the audience definitions of campaigns not yet on a platform (draft, pending review, scheduled) to the
// remarketing audiences built and synced since (README "Campaigns" → The suite): daily for every such campaign
// (campaigns.refresh_audiences) and once more just before a campaign is published, so an audience built after its
// approval (a scheduled campaign waits days for its budget's start) is sent with it.
import type { Queryable } from '../store/db.js';
import { campaignStore as S, Q, toCampaign, type Campaign } from './store.js';
import { linkAudiences, type AudienceCandidate, type Targeting } from './suite.js';

export function createAudienceLinks(db: Queryable, now: () => Date) {
  /** Links `c`'s definitions to `candidates` (its organizer's); whether its targeting changed. */
  async function link(c: Campaign, candidates: AudienceCandidate[]): Promise<boolean> {
    const before = c.targeting as unknown as Targeting;
    const after = linkAudiences(before, c.platform, c.organizer_id, candidates);
    if (JSON.stringify(after) === JSON.stringify(before)) return false;
    await db.query(Q.set_targeting, [c.tenant_id, c.id, JSON.stringify(after), now()]);
    return true;
  }

  return {
    /** campaigns.refresh_audiences: up to `limit` campaigns not yet published; how many changed. */
    async linkPending(limit: number): Promise<number> {
      const rows = (await db.query<Record<string, unknown>>(Q.unpublished_with_audiences, [limit])).rows.map(toCampaign);
      const cache = new Map<string, AudienceCandidate[]>();
      let changed = 0;
      for (const c of rows) {
        const key = `${c.tenant_id}:${c.organizer_id}`;
        if (!cache.has(key)) cache.set(key, await S.audienceCandidates(db, c.tenant_id, c.organizer_id));
        if (await link(c, cache.get(key)!)) changed++;
      }
      return changed;
    },
    /** Before publishing `cs` (campaigns of one organizer): their definitions linked to what is synced now. */
    async linkBeforePublish(tenant: number, organizerId: string, cs: Campaign[]): Promise<void> {
      if (cs.length === 0) return;
      const candidates = await S.audienceCandidates(db, tenant, organizerId);
      for (const c of cs) await link(c, candidates);
    },
  };
}
