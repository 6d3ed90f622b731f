-- What the relay has still to publish moves from a partial index on the outbox to a table of
-- its own, so that marking a row published no longer rewrites it in every index.
--
-- Before: published_at appeared in three indexes (outbox_unpublished's and outbox_parked's
-- predicates, outbox_published's key), so every mark was a non-HOT update: a new version of the
-- whole row (payload included) in the WAL and a new entry in each of the table's seven
-- indexes, about 1.3 kB of WAL and 17 us per event, two thirds of the relay's round.
--
-- Now: outbox_pending holds the id of every row inserted unpublished (statement triggers below,
-- whoever inserts); the relay claims through it and deletes from it when it marks. published_at
-- is in no index, and the table keeps half of each page free (fillfactor), so the mark is a
-- HOT update on the row's own page: no index entry, about 90 bytes of WAL.
CREATE TABLE outbox_pending (id bigint PRIMARY KEY);

CREATE FUNCTION outbox_pending_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox_pending SELECT id FROM new_rows WHERE published_at IS NULL;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_pending_add AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_pending_add();

-- A row given up by an operator (DELETE FROM outbox WHERE id = ...) is given up as pending too.
CREATE FUNCTION outbox_pending_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM outbox_pending WHERE id IN (SELECT id FROM old_rows);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_pending_forget AFTER DELETE ON outbox
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_pending_forget();

CREATE FUNCTION outbox_pending_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE outbox_pending;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_pending_truncate AFTER TRUNCATE ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_pending_truncate();

-- A row made unpublished again (republishing after a lost topic, docs/operations.md) is
-- pending again. The mark sets published_at, which this WHEN never matches.
CREATE FUNCTION outbox_pending_again() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox_pending VALUES (NEW.id) ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_pending_again AFTER UPDATE OF published_at ON outbox
  FOR EACH ROW WHEN (OLD.published_at IS NOT NULL AND NEW.published_at IS NULL)
  EXECUTE FUNCTION outbox_pending_again();

-- The rows pending now. After the triggers: creating them waited for the transactions writing
-- to the outbox and keeps new ones out until this migration commits, so no row is missed.
-- (A relay of the previous version still running marks without emptying outbox_pending; the
-- new relay then publishes those rows once more, which at-least-once delivery allows.)
INSERT INTO outbox_pending SELECT id FROM outbox WHERE published_at IS NULL;

DROP INDEX outbox_unpublished;
-- Retention now deletes from the head of the table (ids in order), see outbox_relay_store.cpp.
DROP INDEX outbox_published;
-- Only parking and requeueing change parked_at; a parked row is unpublished by construction.
DROP INDEX outbox_parked;
CREATE INDEX outbox_parked ON outbox (aggregate_type, aggregate_id, id) WHERE parked_at IS NOT NULL;

-- Room for each row's published version on its own page. Pages written from now on; the rows
-- already there are published ones, which are not updated again.
ALTER TABLE outbox SET (fillfactor = 50);
