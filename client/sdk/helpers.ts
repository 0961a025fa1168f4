// ESM entry of the SDK's helpers chunk (dist/tx-helpers.mjs): interaction helpers and experiments.
export { decorateUrl, onPageView, trackDetailView, trackImpressions, trackTicketLinks } from './interactions.js';
export type { DetailView, ImpressionOptions, Impressions, TicketLinkOptions } from './interactions.js';
export { assignVariant, bucketRanges, chooseVariation, exposure, fnv1a32, gbHash, loadExperiments, localExperiments } from './experiments.js';
export type { ExperimentDef, Experiments } from './experiments.js';
