// The catalog's tables in the GDPR registry (gdpr/registry.ts). Catalog rows describe business entities
// (organizers, venues, artists, events, ticket types, products): no person. A person's catalog attributes
// (city, marketing consent, order stats) are columns of `persons`, so the identity domain's persons entry
// erases them with the row and the export shows them in `person` (identity/persons.ts personView).
import type { GdprRegistry } from '../gdpr/registry.js';

export const CATALOG_TABLES = ['catalog_organizers', 'catalog_venues', 'catalog_artists', 'catalog_events', 'catalog_ticket_types', 'catalog_products'];

export function registerCatalogTables(registry: GdprRegistry): void {
  registry.none(CATALOG_TABLES, 'the tenant\'s catalog: organizers, venues, artists, events, ticket types, products (business entities, no person)');
}
