-- The relay's bookkeeping on outbox rows: poison rows and retention.
--
-- A row whose message Kafka refuses for good (larger than the broker accepts, an invalid
-- record) is retried a bounded number of times (attempts, last_error) and then parked
-- (parked_at). A parked row holds back the later rows of its aggregate, so that a consumer
-- never sees a key's events with one missing in the middle: the relay publishes them once an
-- operator has dealt with the parked row, either
--   UPDATE outbox SET parked_at = NULL, attempts = 0 WHERE id = ...;  -- try it again
-- or
--   DELETE FROM outbox WHERE id = ...;                                 -- give it up
ALTER TABLE outbox
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN last_error text,
  ADD COLUMN parked_at timestamptz;

-- The parked rows by aggregate: the relay's claim skips the rows they hold back.
CREATE INDEX outbox_parked ON outbox (aggregate_type, aggregate_id, id)
  WHERE parked_at IS NOT NULL AND published_at IS NULL;

-- Published rows are deleted after the retention period, oldest first, in small batches.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
