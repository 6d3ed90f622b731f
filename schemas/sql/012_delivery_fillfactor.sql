-- A lease changes only locked_until, which no index holds: with room left on each page the
-- new row version stays on it (a HOT update) and no index is written.
ALTER TABLE webhook_deliveries SET (fillfactor = 50);
ALTER TABLE rotation_deliveries SET (fillfactor = 50);
