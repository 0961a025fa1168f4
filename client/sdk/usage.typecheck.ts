// Compile-time checks of the SDK's registry-derived typings (type-checked by `npm run build:clients`, never
// bundled): every line without @ts-expect-error must compile, every line with it must not.
import { TxTracker } from './index.js';

export function usage(tx: TxTracker) {
  tx.pageView();
  tx.pageView({ page_type: 'event' });
  tx.eventView({ event_entity_id: 'E1', price_from: 50, currency: 'EUR', availability_snapshot: { ga: 10 } });
  tx.ticketTypeSelected({ event_entity_id: 'E1', ticket_type_id: 'GA', qty: 2, price: 50, currency: 'EUR' });
  tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [{ ticket_type_id: 'GA', qty: 2, price: 50 }], cart_value: 100, currency: 'EUR' });
  tx.removeFromCart({ cart_id: 'C1', items: [{ ticket_type_id: 'GA', qty: 1 }] });
  tx.cartView({ cart_id: 'C1' });
  tx.checkoutStarted({ cart_id: 'C1', cart_value: 100, currency: 'EUR', login_state: 'guest' });
  tx.checkoutStepViewed({ cart_id: 'C1', step_name: 'details', step_index: 0 });
  tx.checkoutStepCompleted({ cart_id: 'C1', step_name: 'details', step_duration_ms: 1200, validation_errors: ['email'] });
  tx.beneficiaryAdded({ ticket_type_id: 'GA', ticket_index: 0 });
  tx.beneficiaryUpdated({ fields_changed: ['name'] });
  tx.beneficiaryRemoved({ ticket_index: 1 });
  tx.discountCodeApplied({ cart_id: 'C1', code: 'FALL10', discount_amount: 10 });
  tx.discountCodeRejected({ cart_id: 'C1', code: 'OLD', reason: 'expired' });
  tx.affiliateAttributionCaptured({ affiliate_id: 'A7' });
  tx.paymentMethodSelected({ cart_id: 'C1', method: 'card' });
  tx.paymentAttempted({ order_id: 'O1', amount: 100, currency: 'EUR' });
  tx.searchPerformed({ query: 'jazz', result_count: 3 });
  tx.eventCardImpression({ event_entity_id: 'E1', position: 0, list_name: 'home' });
  tx.eventCardClick({ event_entity_id: 'E1', position: 0 });
  tx.ticketLinkClick({ event_entity_id: 'E1', ticket_url: 'https://t.example/e1' });
  tx.share({ event_entity_id: 'E1', method: 'copy_link' });
  tx.eventInterestMarked({ event_entity_id: 'E1', interested: true });
  tx.track('experiment_exposure', { experiment_id: 'X1', variant: 'b' });
  const id: string | null = tx.track('page_view');

  // @ts-expect-error add_to_cart needs cart_id (a required entity)
  tx.addToCart({ event_entity_id: 'E1', items: [], cart_value: 1, currency: 'EUR' });
  // @ts-expect-error cart_value is a number
  tx.addToCart({ cart_id: 'C1', event_entity_id: 'E1', items: [], cart_value: '1', currency: 'EUR' });
  // @ts-expect-error event_view needs its event
  tx.eventView({ price_from: 1 });
  // @ts-expect-error search_performed needs a query
  tx.searchPerformed();
  // @ts-expect-error login_state is guest or authenticated
  tx.checkoutStarted({ cart_id: 'C1', cart_value: 1, currency: 'EUR', login_state: 'anonymous' });
  // @ts-expect-error unknown event
  tx.track('teleported', {});
  return id;
}
