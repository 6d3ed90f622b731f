-- W3C trace context carried from the HTTP request that changed something to its event's
-- Kafka headers and its webhook deliveries; NULL when the request had none (or the change
-- came from the scheduler).
ALTER TABLE outbox ADD COLUMN traceparent text;
ALTER TABLE webhook_deliveries ADD COLUMN traceparent text;
