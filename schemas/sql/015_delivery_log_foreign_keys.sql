-- The delivery log is written as fast as receivers answer: a batch of deliveries and their
-- first attempts in one statement. Their two foreign keys cost a lookup and a row lock on the
-- parent for every row, about 45% of that statement. Neither guards anything the code does not
-- already: subscriptions are never deleted (deleted_at marks them), a delivery is written with
-- its first attempt or by the sender holding its lease, and retention deletes a delivery with
-- its attempts in one statement. Joins to webhook_subscriptions keep every read as before.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_subscription_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
