// Which rows of a commit the outbox statement is sent: purchases always (attribution), the other conversion
// events only when an enabled code of their tenant lists them; never bots or other events.
import { describe, expect, it } from 'vitest';
import type { EventRow } from '../store/events.js';
import { outboxInput, rowsForOutbox } from './outbox.js';

const row = (tenant: number, name: string, bot = false) => ({ tenant_id: tenant, event_id: `${tenant}-${name}`, event_name: name, is_bot: bot }) as unknown as EventRow;

describe('conversions outbox input', () => {
  const input = outboxInput([row(1, 'order_completed'), row(1, 'event_view'), row(1, 'page_view'), row(2, 'event_view'), row(2, 'add_to_cart'), row(2, 'order_completed', true)]);

  it('keeps the four conversion events of humans only', () => {
    expect(input.map((r) => `${r.tenant_id} ${r.event_name}`)).toEqual(['1 order_completed', '1 event_view', '2 event_view', '2 add_to_cart']);
  });

  it('sends purchases whatever the codes, other rows only when their own tenant lists the event', () => {
    expect(rowsForOutbox(input, new Set()).map((r) => r.event_id)).toEqual(['1-order_completed']);
    expect(rowsForOutbox(input, new Set(['2 event_view'])).map((r) => r.event_id)).toEqual(['1-order_completed', '2-event_view']);
    expect(rowsForOutbox(input, new Set(['1 event_view', '1 add_to_cart'])).map((r) => r.event_id)).toEqual(['1-order_completed', '1-event_view']);
  });
});
