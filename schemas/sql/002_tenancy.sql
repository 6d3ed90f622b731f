-- Environments, and what users of key services rely on beyond the seeds: enabling and
-- disabling a key, free metadata returned by verify, and source-address allow-lists.

-- Environments of a project; the name becomes part of its keys' visible prefix (kf_live_...).
CREATE TABLE environments (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects (id),
  name text NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (project_id, name)
);

ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_environment_fk FOREIGN KEY (environment_id) REFERENCES environments (id),
  -- Free JSON (at most 4 KiB) returned by verify.
  ADD COLUMN meta jsonb,
  -- Canonical CIDRs (10.0.0.0/8, 2001:db8::/32); empty means any source address.
  ADD COLUMN allowed_cidrs text[] NOT NULL DEFAULT '{}';

CREATE INDEX api_keys_by_environment ON api_keys (environment_id, created_at DESC, id DESC)
  WHERE environment_id IS NOT NULL;
