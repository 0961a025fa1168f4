// Six scripted personas for seed_v1 (each term exercised) with their hand-computed terms and propensity at
// `now`: shared by the pure test (score.test.ts) and the end-to-end estimate test (test/audiences-*.test.ts).
import { sigmoid, type FeatureVector, type Hypothesis, type PersonFacts } from './score.js';

export const HYPOTHESIS: Hypothesis = { artist_ids: ['A1', 'A2'], genres: ['rock', 'pop'], city: 'Cluj', venue_id: '', price_from: 60, price_to: 100, ticket_category: '' };
const blank: PersonFacts = { city: null, avgOrderValue: null, lastPurchaseAt: null, totalOrders: 0, eventsAttended: 0, artistAffinity: {}, genreAffinity: {}, discountRate: 0 };
export const BLANK = blank;

export interface Persona {
  facts: PersonFacts;
  x: FeatureVector;
  p: number;
}

export function personas(now: number): Record<string, Persona> {
  const daysAgo = (d: number) => new Date(now - d * 86_400_000);
  return {
    // genre mean (80+40)/2/100; artist 150 capped at 1; same city; |90-80|/100; 9 days; 3 of 4 orders attended; half discounted
    fan: {
      facts: { city: 'Cluj', avgOrderValue: 90, lastPurchaseAt: daysAgo(9.5), totalOrders: 4, eventsAttended: 3, artistAffinity: { A1: 150 }, genreAffinity: { rock: 80, pop: 40, jazz: 99 }, discountRate: 0.5 },
      x: [0.6, 1, 1, 0.9, Math.exp(-9 / 90), 0.75, 0.5],
      p: sigmoid(4 * (0.3 * 0.6 + 0.3 * 1 + 0.15 * 1 + 0.1 * 0.9 + 0.1 * Math.exp(-9 / 90) + 0.1 * 0.75 - 0.05 * 0.5)),
    },
    // nothing known: default spend 50 vs 80 → 0.7; no purchase → recency 0; 0/max(0,1) attendance
    newcomer: { facts: blank, x: [0, 0, 0, 0.7, 0, 0, 0], p: sigmoid(4 * (0.1 * 0.7)) },
    // one genre row of 250 (capped); other city; spend 300 → price fit 0; one order, none attended
    big_spender: {
      facts: { ...blank, city: 'Bucuresti', avgOrderValue: 300, lastPurchaseAt: daysAgo(0.2), totalOrders: 1, genreAffinity: { rock: 250 } },
      x: [1, 0, 0, 0, 1, 0, 0], p: sigmoid(4 * (0.3 * 1 + 0.1 * 1)),
    },
    // 180.5 days → 180 whole days; attended more events than orders → capped at 1; artist A2 only: 30/100
    lapsed: {
      facts: { ...blank, city: 'Cluj', avgOrderValue: 80, lastPurchaseAt: daysAgo(180.5), totalOrders: 2, eventsAttended: 5, artistAffinity: { A2: 30 } },
      x: [0, 0.3, 1, 1, Math.exp(-2), 1, 0], p: sigmoid(4 * (0.3 * 0.3 + 0.15 + 0.1 * 1 + 0.1 * Math.exp(-2) + 0.1 * 1)),
    },
    // only discounted orders (spend 20 vs 80 → 0.4) 2 days ago, affinity for a genre the event does not have
    discount_hunter: {
      facts: { ...blank, avgOrderValue: 20, lastPurchaseAt: daysAgo(2.5), totalOrders: 3, eventsAttended: 3, genreAffinity: { jazz: 90 }, discountRate: 1 },
      x: [0, 0, 0, 0.4, Math.exp(-2 / 90), 1, 1], p: sigmoid(4 * (0.1 * 0.4 + 0.1 * Math.exp(-2 / 90) + 0.1 * 1 - 0.05 * 1)),
    },
    // a purchase dated in the future (clock skew) counts its distance like Carbon's absolute diffInDays
    future_purchase: {
      facts: { ...blank, avgOrderValue: 130, lastPurchaseAt: daysAgo(-45.9), genreAffinity: { pop: 100 } },
      x: [1, 0, 0, 0.5, Math.exp(-45 / 90), 0, 0], p: sigmoid(4 * (0.3 + 0.1 * 0.5 + 0.1 * Math.exp(-0.5))),
    },
  };
}
