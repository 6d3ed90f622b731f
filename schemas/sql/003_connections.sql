-- Connections and their event write keys (seed 003).

-- A source of events (an SDK or an incoming webhook) inside a project; seed 003's "workspace"
-- is the project. Ids are integers as in the seed's URLs, chosen at random in [1, 2^53) by the
-- engine: they reveal no count, cannot be walked, and are exact in a JavaScript number.
-- Deleting a connection sets deleted_at (the id stays taken, and the row explains the
-- connection.deleted event) and erases its write keys.
CREATE TABLE connections (
  id bigint PRIMARY KEY CHECK (id BETWEEN 1 AND 9007199254740991),
  organization_id uuid NOT NULL REFERENCES organizations (id),
  project_id uuid NOT NULL REFERENCES projects (id),
  type text NOT NULL CHECK (type IN ('sdk', 'webhook')),
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX connections_by_project ON connections (project_id, created_at DESC, id DESC)
  WHERE deleted_at IS NULL;

-- A connection keeps between 1 and 20 keys. The engine enforces both bounds while holding the
-- connection row's lock, so concurrent creates and deletes of one connection serialize.
CREATE TABLE event_write_keys (
  id uuid PRIMARY KEY,
  connection_id bigint NOT NULL REFERENCES connections (id),
  -- Keyed BLAKE2b-256 of the key, for verify and for finding the key to delete.
  key_hash bytea NOT NULL UNIQUE,
  -- The key, XChaCha20-Poly1305 under the master key (context "event_write_key"): seed 003
  -- lists the keys themselves, so they must be readable again.
  key_sealed bytea NOT NULL,
  -- Its first four characters, for events and people; not enough to use or guess the key.
  key_prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_write_keys_by_connection ON event_write_keys (connection_id, created_at);
