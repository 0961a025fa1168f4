// Composition of every domain's person-data tables into the one GDPR registry (README "Sessions, identity and GDPR").
import { createGdprRegistry, registerStoreTables, type GdprRegistry } from './gdpr/index.js';
import { registerIdentityTables } from './identity/index.js';
import { registerStripeTables } from './integrations/stripe/index.js';
import { registerCatalogTables } from './catalog/index.js';
import { registerAuditTables } from './audit/index.js';
import { registerAuthzTables } from './authz/index.js';
import { registerExperimentTables } from './experiments/index.js';
import { registerFeatureTables } from './features/index.js';
import { registerAudienceTables } from './audiences/index.js';
import { registerSegmentTables } from './segments/index.js';
import { registerRemarketingTables } from './remarketing/index.js';
import { registerTrackingTables } from './tracking/index.js';
import { registerConversionTables } from './conversions/index.js';
import { registerCampaignTables } from './campaigns/index.js';

/**
 * The GDPR registry: every table that can hold a person's data, with its eraser, in erasure (and report)
 * order, and every other table declared free of it (test/gdpr-registry.test.ts compares with the schema).
 * External stores (the live layer) are added once they exist.
 */
export function createPersonDataRegistry(): GdprRegistry {
  const registry = createGdprRegistry();
  registerStoreTables(registry);
  registerIdentityTables(registry);
  registerStripeTables(registry);
  registry.none(['live_event_owners', 'live_owner_conflicts'], 'event → organizer ownership of the live layer (live/owners.ts)');
  registry.none(['job_runs'], 'runs of the server\'s own jobs (jobs/): names, windows, node ids, counts, error texts');
  registerCatalogTables(registry);
  registerAuditTables(registry);
  registerAuthzTables(registry);
  registerExperimentTables(registry);
  registerFeatureTables(registry);
  registerAudienceTables(registry);
  registerSegmentTables(registry);
  registerRemarketingTables(registry);
  registerTrackingTables(registry);
  registerConversionTables(registry);
  registerCampaignTables(registry);
  return registry;
}
