// viewOf shows which secrets a code holds; secrets it cannot read (another ENCRYPTION_KEY, a ciphertext moved to
// another code) show as absent rather than failing the read.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCipher } from '../identity/crypto.js';
import { encryptSecrets, viewOf, type TrackingCodeRow } from './store.js';

const code = { provider: 'meta' as const, organizer_id: 'O1', event_id: null };

function rowWith(secrets_enc: string | null): TrackingCodeRow {
  return {
    id: 1, tenant_id: 1, ...code, enabled: true, settings: { pixel_id: '123456' } as TrackingCodeRow['settings'], secrets_enc,
    owner: 'organizer', created_at: '2025-06-01T00:00:00.000Z', updated_at: '2025-06-01T00:00:00.000Z',
  };
}

describe('viewOf', () => {
  const cipher = createCipher(crypto.randomBytes(32));
  const enc = encryptSecrets(cipher, 1, code, { access_token: 'EAAB-secret-value' });

  it('shows the secrets it can read as has_* flags, never their values', () => {
    const v = viewOf(rowWith(enc), cipher);
    expect(v).toMatchObject({ has_access_token: true, has_api_secret: false });
    expect(JSON.stringify(v)).not.toContain('EAAB-secret-value');
  });

  it('shows unreadable secrets as absent: another key, another code\'s ciphertext, no key at all', () => {
    expect(viewOf(rowWith(enc), createCipher(crypto.randomBytes(32)))).toMatchObject({ has_access_token: false, has_api_secret: false });
    expect(viewOf({ ...rowWith(enc), organizer_id: 'O2' }, cipher)).toMatchObject({ has_access_token: false });
    expect(viewOf(rowWith(enc), createCipher(null))).toMatchObject({ has_access_token: false });
  });
});
