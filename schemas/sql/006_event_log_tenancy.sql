-- GET /v1/events for a key filters by its tenant, which every event's payload names: indexes
-- on those expressions answer a tenant with few events without reading everyone else's.
CREATE INDEX outbox_by_organization ON outbox ((payload->>'organization_id'), id DESC);
CREATE INDEX outbox_by_project ON outbox ((payload->>'project_id'), id DESC);
