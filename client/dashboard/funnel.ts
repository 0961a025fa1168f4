// Funnel steps, their conversion and drop-off, and capacity levels. Pure.
import type { Funnel } from '../live/types.js';
import { formatRatio } from './format.js';

export const FUNNEL_STEPS: { key: keyof Funnel; label: string }[] = [
  { key: 'views', label: 'Event views' },
  { key: 'ticket_selections', label: 'Ticket selections' },
  { key: 'add_to_carts', label: 'Added to cart' },
  { key: 'checkouts_started', label: 'Checkouts started' },
  { key: 'orders', label: 'Orders' },
];

export interface Step {
  key: keyof Funnel;
  label: string;
  value: number;
  /** Bar length relative to the largest step, 0…1. */
  width: number;
  /** From the previous step: share that continued / dropped (null for the first step or an empty previous). */
  conversion: number | null;
  dropoff: number | null;
}

/** Rounded like the server (4 decimals), so the page and the API agree on every shown digit. */
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

export function funnelSteps(f: Funnel): Step[] {
  const max = Math.max(1, ...FUNNEL_STEPS.map((s) => f[s.key]));
  return FUNNEL_STEPS.map((s, i) => {
    const value = f[s.key];
    const prev = i > 0 ? f[FUNNEL_STEPS[i - 1].key] : 0;
    const conversion = i > 0 && prev > 0 ? round4(value / prev) : null;
    return { key: s.key, label: s.label, value, width: value / max, conversion, dropoff: conversion === null ? null : Math.max(0, round4(1 - value / prev)) };
  });
}

/**
 * The line under a step. Counts are events, not people, so a step can be empty while the one before is not
 * (nobody got there yet) or exceed it (one visitor selects tickets twice): neither is shown as a conversion
 * rate. Continue and drop-off are rounded once, to the shown 0.1 %, and drop-off is the complement of the shown
 * continue, so the two always add up to exactly 100 %.
 */
export function stepRateText(step: Step, prev: number | null, locale?: string): string {
  if (prev === null) return '';
  if (step.conversion === null) return '↓ –';
  if (step.value === 0) return '↓ none yet';
  if (step.value > prev) return `↓ all continue · ${formatRatio(step.value / prev - 1, locale)} more events than the step before`;
  const shown = Math.round((step.value / prev) * 1000);
  return `↓ ${formatRatio(shown / 1000, locale)} continue · ${formatRatio((1000 - shown) / 1000, locale)} drop off`;
}

export type CapacityLevel = 'ok' | 'warn' | 'crit' | 'unknown';

/** Amber from 85 %, red from 95 % of capacity. */
export function capacityLevel(percent: number | null): CapacityLevel {
  if (percent === null || !Number.isFinite(percent)) return 'unknown';
  if (percent >= 95) return 'crit';
  if (percent >= 85) return 'warn';
  return 'ok';
}
