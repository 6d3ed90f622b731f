-- Scheduled rotation that reaches the key's owner, and expiry and grace ends as events.

ALTER TABLE api_keys
  -- The Standard Webhooks secret (whsec_...) that signs this key's rotation webhooks, sealed
  -- under the master key (context rotation_webhook_secret). Shown once, when issued.
  ADD COLUMN rotation_webhook_secret_sealed bytea,
  -- An X25519 public key: when set, the new key travels sealed to it (crypto_box_seal).
  ADD COLUMN rotation_public_key bytea CHECK (octet_length(rotation_public_key) = 32),
  -- The old key's grace after a scheduled rotation; NULL: the scheduler's default.
  ADD COLUMN rotation_grace_seconds integer
    CHECK (rotation_grace_seconds BETWEEN 0 AND 7776000),
  -- The key this one replaced, for keys made by a rotation.
  ADD COLUMN rotated_from uuid REFERENCES api_keys (id),
  -- The expires_at whose api_key.expiring / api_key.expired was emitted: a changed expires_at
  -- re-arms both, an unchanged one never fires twice.
  ADD COLUMN expiring_sent_for timestamptz,
  ADD COLUMN expired_sent_for timestamptz,
  -- When api_key.grace_ended was emitted for a rotated key.
  ADD COLUMN grace_ended_at timestamptz;

-- Keys scheduled before rotation webhooks existed have no secret to sign with: the
-- scheduler leaves them alone (api_keys_due_rotation still finds them) until
-- POST /v1/api-keys/{id}/rotation-secret issues one.
CREATE INDEX api_keys_expiry_due ON api_keys (expires_at)
  WHERE expires_at IS NOT NULL AND revoked_at IS NULL
    AND (expiring_sent_for IS DISTINCT FROM expires_at OR expired_sent_for IS DISTINCT FROM expires_at);
CREATE INDEX api_keys_grace_due ON api_keys (grace_expires_at)
  WHERE replaced_by_key_id IS NOT NULL AND grace_ended_at IS NULL AND revoked_at IS NULL;

-- The new key of each rotation of a key with a rotation webhook, until its owner has it.
CREATE TABLE rotation_deliveries (
  id text PRIMARY KEY,  -- the webhook-id, stable across retries
  old_key_id uuid NOT NULL REFERENCES api_keys (id),
  new_key_id uuid NOT NULL UNIQUE REFERENCES api_keys (id),
  url text NOT NULL,
  -- The body's envelope and data without the key itself.
  payload jsonb NOT NULL,
  -- The new plaintext sealed under the master key (context rotation_key), or, for a key with
  -- a rotation_public_key, sealed_key: base64 of crypto_box_seal to it. Erased (NULL) once
  -- the POST succeeded or the old key's grace ended.
  key_sealed bytea,
  sealed_key text,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'succeeded', 'dead', 'expired')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  -- The old key's grace was extended once because this had not been delivered.
  grace_extended boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX rotation_deliveries_due ON rotation_deliveries (next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX rotation_deliveries_undelivered ON rotation_deliveries (old_key_id)
  WHERE status IN ('pending', 'dead');

CREATE TABLE rotation_delivery_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES rotation_deliveries (id),
  attempted_at timestamptz NOT NULL,
  status_code integer,
  latency_ms integer NOT NULL,
  error text
);
CREATE INDEX rotation_delivery_attempts_by_delivery ON rotation_delivery_attempts (delivery_id, id);
