-- Delivery ids are ASCII (msg_ and 27 base62 characters), looked up and compared on every
-- write of the delivery log: compared bytewise ("C"), PostgreSQL's fast path, instead of by the
-- database's locale, which costs a strcoll() per comparison in every index probe. The indexes
-- are rebuilt; the rows stay as they are.
ALTER TABLE webhook_deliveries ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE webhook_attempts ALTER COLUMN delivery_id TYPE text COLLATE "C";
