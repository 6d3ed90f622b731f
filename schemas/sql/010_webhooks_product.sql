-- Webhooks as a product: subscriptions described, changed, paused, disabled with a reason and
-- deleted over HTTP. A deleted subscription stays as a row (its deliveries and attempts keep
-- their history) and is never matched, claimed, listed or found again.

ALTER TABLE webhook_subscriptions
  ADD COLUMN description text CHECK (char_length(description) <= 1024),
  -- Why a disabled subscription is disabled ('disabled by a caller', 'deleted', or what the
  -- deliverer saw); NULL while enabled or paused.
  ADD COLUMN disabled_reason text,
  ADD COLUMN updated_at timestamptz,
  ADD COLUMN deleted_at timestamptz;

UPDATE webhook_subscriptions SET updated_at = created_at;
ALTER TABLE webhook_subscriptions
  ALTER COLUMN updated_at SET DEFAULT now(),
  ALTER COLUMN updated_at SET NOT NULL;

-- Lists page by (created_at, id) within a tenant; the per-organization cap counts here too.
CREATE INDEX webhook_subscriptions_by_organization
  ON webhook_subscriptions (organization_id, created_at, id) WHERE deleted_at IS NULL;

-- What the receiver answered, its first 20 000 bytes, for the delivery log.
ALTER TABLE webhook_attempts ADD COLUMN response_body text;
ALTER TABLE rotation_delivery_attempts ADD COLUMN response_body text;

-- A secret rotation's overlap: until previous_secret_expires_at every delivery is signed with
-- the previous secret too, so receivers switch with no failed verification.
ALTER TABLE webhook_subscriptions
  ADD COLUMN previous_secret_sealed bytea,
  ADD COLUMN previous_secret_expires_at timestamptz;

-- The delivery log, newest first, per subscription.
CREATE INDEX webhook_deliveries_by_subscription
  ON webhook_deliveries (subscription_id, created_at DESC, id DESC);

-- Finished deliveries oldest first, for retention.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
  WHERE status IN ('succeeded', 'dead');

-- Ed25519 signing (Standard Webhooks v1a): the subscription's secret key sealed under the
-- master key, and its public key, which receivers verify with.
ALTER TABLE webhook_subscriptions
  ADD COLUMN signing_key_sealed bytea,
  ADD COLUMN public_key bytea CHECK (octet_length(public_key) = 32);
