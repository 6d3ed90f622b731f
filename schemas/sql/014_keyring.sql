-- What the master key protects that is not a secret of one row: the pepper of every stored key
-- hash, sealed (SecretBox, context hash_pepper). Written once, by the first process that starts
-- on this database; `keyflowd rekey` re-seals it under a new master key, its value never
-- changes. version 0: the installation's first master key itself (installations from before
-- this table); 1: derived from it for hashing alone.
CREATE TABLE keyflow_keyring (
  name text PRIMARY KEY CHECK (name IN ('hash_pepper')),
  version integer NOT NULL,
  sealed bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  resealed_at timestamptz
);
