-- Each subscription's own delivery settings, and how its receiver is doing.

ALTER TABLE webhook_subscriptions
  -- Delays in seconds before each attempt, the first 0; NULL: the deployment's schedule
  -- (KEYFLOW_WEBHOOK_RETRY_SCHEDULE).
  ADD COLUMN retry_schedule integer[]
    CHECK (cardinality(retry_schedule) BETWEEN 1 AND 20 AND retry_schedule[1] = 0
           AND 0 <= ALL (retry_schedule) AND 86400 >= ALL (retry_schedule)),
  -- At most this many attempts a second to this subscription, per deliver process; NULL: no limit.
  ADD COLUMN rate_limit integer CHECK (rate_limit BETWEEN 1 AND 10000),
  -- The first failed attempt since the last successful one; NULL while the receiver answers.
  -- A subscription failing for KEYFLOW_WEBHOOK_DISABLE_AFTER is disabled.
  ADD COLUMN failing_since timestamptz,
  -- A delivery went dead (or the subscription was disabled) while failing: its recovery is
  -- announced with webhook.endpoint_recovered.
  ADD COLUMN failing_reported boolean NOT NULL DEFAULT false;
