// The connection state machine of a live client. Pure: (state, event) → state.
//
//   idle ──connect──▶ connecting ──open──▶ open
//                        │  ▲                │
//             close(retry)  retry      close(retry)
//                        ▼  │                │
//                     reconnecting ◀─────────┘
//   any ──stop / close(no retry)──▶ closed ──connect──▶ connecting
//
// `close(retry: false)` is a drop that must not be retried (the token is invalid or expired).

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export type MachineEvent =
  | { type: 'connect' }
  | { type: 'open' }
  | { type: 'close'; retry: boolean }
  | { type: 'retry' }
  | { type: 'stop' };

/** The next state, or the same state when the event does not apply (e.g. a late `open` after `stop`). */
export function transition(state: ConnectionState, ev: MachineEvent): ConnectionState {
  switch (ev.type) {
    case 'connect':
      return state === 'idle' || state === 'closed' ? 'connecting' : state;
    case 'open':
      return state === 'connecting' ? 'open' : state;
    case 'close':
      if (state === 'connecting' || state === 'open') return ev.retry ? 'reconnecting' : 'closed';
      if (state === 'reconnecting' && !ev.retry) return 'closed';
      return state;
    case 'retry':
      return state === 'reconnecting' ? 'connecting' : state;
    case 'stop':
      return 'closed';
  }
}
