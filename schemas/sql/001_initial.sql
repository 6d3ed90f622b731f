-- keyflow's initial schema: tenants, keys, the transactional outbox and webhooks.

CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations (id),
  name text NOT NULL,
  -- The visible start of every key of this project: kf_live_...
  key_prefix text NOT NULL DEFAULT 'kf',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_by_organization ON projects (organization_id);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES organizations (id),
  project_id uuid REFERENCES projects (id),
  environment_id uuid,
  name text NOT NULL,
  key_prefix text NOT NULL,
  -- Keyed BLAKE2b-256 of the key; the plaintext is never stored.
  key_hash bytea NOT NULL UNIQUE,
  scopes text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  expires_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  replaced_by_key_id uuid REFERENCES api_keys (id),
  grace_expires_at timestamptz,
  rotation_interval_days integer CHECK (rotation_interval_days > 0),
  next_rotation_at timestamptz,
  rotation_webhook_url text
);
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at DESC, id DESC);
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, created_at DESC, id DESC);
CREATE INDEX api_keys_due_rotation ON api_keys (next_rotation_at)
  WHERE next_rotation_at IS NOT NULL AND revoked_at IS NULL AND replaced_by_key_id IS NULL;

-- The transactional outbox: every mutation inserts its event here in its own transaction.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Wakes the relay at commit; the relay polls as well, so a lost notification costs latency only.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('keyflow_outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE webhook_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid REFERENCES organizations (id),
  project_id uuid REFERENCES projects (id),
  url text NOT NULL,
  -- Empty means every event type.
  event_types text[] NOT NULL DEFAULT '{}',
  -- whsec_ secret, XChaCha20-Poly1305 under the master key.
  secret_sealed bytea NOT NULL,
  status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled', 'paused')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery per (subscription, event); its id is the webhook-id, stable across retries.
CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id),
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  -- The exact body POSTed on every attempt.
  body text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- A sender's lease: a crashed sender's deliveries become due again when it runs out.
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE status = 'pending';

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES webhook_deliveries (id),
  attempted_at timestamptz NOT NULL,
  status_code integer,
  latency_ms integer NOT NULL,
  error text
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
