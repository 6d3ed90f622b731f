-- GET /v1/events reads a resource's history from the retained outbox rows.
CREATE INDEX outbox_by_aggregate ON outbox (aggregate_id, id DESC);
