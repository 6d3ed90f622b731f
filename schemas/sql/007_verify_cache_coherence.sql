-- Every serve process caches verify answers. A key change commits a notification on
-- keyflow_verify_cache; before the change returns, the changing process pings every serve
-- process on the same channel and waits for each live one to acknowledge the ping, which it
-- can only do after it has dropped the changed key (notifications arrive in commit order).
CREATE TABLE serve_instances (
  id uuid PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now(),  -- heartbeat; older than a few seconds is gone
  acked bigint NOT NULL DEFAULT 0              -- the newest ping it has answered
);
CREATE SEQUENCE verify_cache_ping;
