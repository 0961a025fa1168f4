// Accessible names and states of the dashboard's controls. Pure (no DOM types), so the unit tests run them.

/** The names of the capacity meters: a meter without one is announced as just a number. */
export const venueMeterLabel = (event: string): string => `Venue capacity used, event ${event}`;
export const gateMeterLabel = (gate: string, event: string): string => `Gate ${gate} capacity used, event ${event}`;

interface AttrTarget {
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}

/** The range buttons' state: aria-pressed="true" on the chosen one, "false" on the others (an empty value is no state). */
export function pressDays(buttons: Iterable<AttrTarget>, days: number): void {
  for (const b of buttons) b.setAttribute('aria-pressed', String(b.getAttribute('data-days') === String(days)));
}
