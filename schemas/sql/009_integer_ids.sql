-- Integer ids for organizations, projects, environments, API keys and webhook subscriptions:
-- random in [1, 2^53), as connections already have them. Seed 001 types a key's id as an
-- int64 and seed 002 as a string; an integer below 2^53 rendered as a string of digits is both.
--
-- Every existing UUID gets a random integer, kept in legacy_ids for good: it is how a consumer
-- that stored UUIDs from earlier events translates them. Every reference, the outbox (its
-- aggregate ids and payloads, published or not), the webhook bodies and the rotation webhook
-- payloads are rewritten in this one transaction, so the history reads as if the resources had
-- always had their integer ids. Event ids, delivery ids, write key ids and serve instances keep
-- their UUIDs: they are not resources a client names.
--
-- The tables are rewritten under an exclusive lock: plan a short stop of every keyflowd for a
-- large database (about a minute per million keys on a small machine).

-- 53 random bits from two draws (one random() holds only 52). The engine draws its own ids
-- (libsodium) and passes them; this default serves rows written by hand.
CREATE FUNCTION random_resource_id() RETURNS bigint LANGUAGE sql VOLATILE
  AS $$ SELECT greatest(1, floor(random() * 67108864)::bigint * 134217728
                           + floor(random() * 134217728)::bigint) $$;

CREATE TABLE legacy_ids (
  uuid uuid PRIMARY KEY,
  id bigint NOT NULL UNIQUE CHECK (id BETWEEN 1 AND 9007199254740991),
  resource text NOT NULL
);

-- Drawn again on the rare collision. A pass that maps nothing while rows are left means a
-- UUID that two tables share (written by hand): stop rather than loop.
DO $$
DECLARE
  mapped bigint;
BEGIN
  LOOP
    INSERT INTO legacy_ids (uuid, id, resource)
    SELECT s.uuid, random_resource_id(), s.resource
      FROM (SELECT id, 'organization' FROM organizations
            UNION ALL SELECT id, 'project' FROM projects
            UNION ALL SELECT id, 'environment' FROM environments
            UNION ALL SELECT id, 'api_key' FROM api_keys
            UNION ALL SELECT id, 'webhook_subscription' FROM webhook_subscriptions)
           AS s (uuid, resource)
     WHERE NOT EXISTS (SELECT 1 FROM legacy_ids l WHERE l.uuid = s.uuid)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS mapped = ROW_COUNT;
    EXIT WHEN (SELECT count(*) FROM legacy_ids) =
              (SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM projects)
                    + (SELECT count(*) FROM environments) + (SELECT count(*) FROM api_keys)
                    + (SELECT count(*) FROM webhook_subscriptions));
    IF mapped = 0 THEN
      RAISE EXCEPTION 'a UUID is the id of two resources; give one of them another id first';
    END IF;
  END LOOP;
END
$$;

CREATE FUNCTION pg_temp.integer_id(legacy uuid) RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT id FROM legacy_ids WHERE uuid = legacy $$;

-- Every quoted UUID in a JSON text that names a resource, replaced by its integer id as a
-- string of digits. Other UUIDs (event ids) stay.
CREATE FUNCTION pg_temp.integer_ids_in(body text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  candidate text;
  mapped bigint;
BEGIN
  FOR candidate IN
    SELECT DISTINCT m[1] FROM regexp_matches(
      body, '"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"',
      'g') AS m
  LOOP
    mapped := pg_temp.integer_id(candidate::uuid);
    IF mapped IS NOT NULL THEN
      body := replace(body, '"' || candidate || '"', '"' || mapped || '"');
    END IF;
  END LOOP;
  RETURN body;
END
$$;

-- A client's own JSON (meta) keeps what the client wrote, as api_keys.meta does.
CREATE FUNCTION pg_temp.meta_of(remapped jsonb, original jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF original ? 'meta' THEN
    remapped := jsonb_set(remapped, '{meta}', original->'meta');
  END IF;
  IF jsonb_typeof(original->'new_key') = 'object' AND original->'new_key' ? 'meta' THEN
    remapped := jsonb_set(remapped, '{new_key,meta}', original#>'{new_key,meta}');
  END IF;
  IF jsonb_typeof(original->'previous') = 'object' AND original->'previous' ? 'meta' THEN
    remapped := jsonb_set(remapped, '{previous,meta}', original#>'{previous,meta}');
  END IF;
  RETURN remapped;
END
$$;

-- A webhook body: its bytes are kept unless its data's meta needed restoring.
CREATE FUNCTION pg_temp.body_with_integer_ids(body text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
  remapped text := pg_temp.integer_ids_in(body);
  fixed jsonb;
BEGIN
  IF remapped = body OR jsonb_typeof(body::jsonb->'data') IS DISTINCT FROM 'object' THEN
    RETURN remapped;
  END IF;
  fixed := jsonb_set(remapped::jsonb, '{data}',
                     pg_temp.meta_of(remapped::jsonb->'data', body::jsonb->'data'));
  RETURN CASE WHEN fixed = remapped::jsonb THEN remapped ELSE fixed::text END;
END
$$;

ALTER TABLE projects DROP CONSTRAINT projects_organization_id_fkey;
ALTER TABLE environments DROP CONSTRAINT environments_project_id_fkey;
ALTER TABLE api_keys
  DROP CONSTRAINT api_keys_organization_id_fkey,
  DROP CONSTRAINT api_keys_project_id_fkey,
  DROP CONSTRAINT api_keys_environment_fk,
  DROP CONSTRAINT api_keys_replaced_by_key_id_fkey,
  DROP CONSTRAINT api_keys_rotated_from_fkey;
ALTER TABLE webhook_subscriptions
  DROP CONSTRAINT webhook_subscriptions_organization_id_fkey,
  DROP CONSTRAINT webhook_subscriptions_project_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_subscription_id_fkey;
ALTER TABLE connections
  DROP CONSTRAINT connections_organization_id_fkey,
  DROP CONSTRAINT connections_project_id_fkey;
ALTER TABLE rotation_deliveries
  DROP CONSTRAINT rotation_deliveries_old_key_id_fkey,
  DROP CONSTRAINT rotation_deliveries_new_key_id_fkey;

ALTER TABLE organizations
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN id TYPE bigint USING pg_temp.integer_id(id),
  ALTER COLUMN id SET DEFAULT random_resource_id(),
  ADD CONSTRAINT organizations_id_range CHECK (id BETWEEN 1 AND 9007199254740991);
ALTER TABLE projects
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN id TYPE bigint USING pg_temp.integer_id(id),
  ALTER COLUMN id SET DEFAULT random_resource_id(),
  ALTER COLUMN organization_id TYPE bigint USING pg_temp.integer_id(organization_id),
  ADD CONSTRAINT projects_id_range CHECK (id BETWEEN 1 AND 9007199254740991);
ALTER TABLE environments
  ALTER COLUMN id TYPE bigint USING pg_temp.integer_id(id),
  ALTER COLUMN id SET DEFAULT random_resource_id(),
  ALTER COLUMN project_id TYPE bigint USING pg_temp.integer_id(project_id),
  ADD CONSTRAINT environments_id_range CHECK (id BETWEEN 1 AND 9007199254740991);
ALTER TABLE api_keys
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN id TYPE bigint USING pg_temp.integer_id(id),
  ALTER COLUMN id SET DEFAULT random_resource_id(),
  ALTER COLUMN organization_id TYPE bigint USING pg_temp.integer_id(organization_id),
  ALTER COLUMN project_id TYPE bigint USING pg_temp.integer_id(project_id),
  ALTER COLUMN environment_id TYPE bigint USING pg_temp.integer_id(environment_id),
  ALTER COLUMN replaced_by_key_id TYPE bigint USING pg_temp.integer_id(replaced_by_key_id),
  ALTER COLUMN rotated_from TYPE bigint USING pg_temp.integer_id(rotated_from),
  ADD CONSTRAINT api_keys_id_range CHECK (id BETWEEN 1 AND 9007199254740991);
ALTER TABLE webhook_subscriptions
  ALTER COLUMN id DROP DEFAULT,
  ALTER COLUMN id TYPE bigint USING pg_temp.integer_id(id),
  ALTER COLUMN id SET DEFAULT random_resource_id(),
  ALTER COLUMN organization_id TYPE bigint USING pg_temp.integer_id(organization_id),
  ALTER COLUMN project_id TYPE bigint USING pg_temp.integer_id(project_id),
  ADD CONSTRAINT webhook_subscriptions_id_range CHECK (id BETWEEN 1 AND 9007199254740991);
ALTER TABLE webhook_deliveries
  ALTER COLUMN subscription_id TYPE bigint USING pg_temp.integer_id(subscription_id);
ALTER TABLE connections
  ALTER COLUMN organization_id TYPE bigint USING pg_temp.integer_id(organization_id),
  ALTER COLUMN project_id TYPE bigint USING pg_temp.integer_id(project_id);
ALTER TABLE rotation_deliveries
  ALTER COLUMN old_key_id TYPE bigint USING pg_temp.integer_id(old_key_id),
  ALTER COLUMN new_key_id TYPE bigint USING pg_temp.integer_id(new_key_id);

ALTER TABLE projects
  ADD CONSTRAINT projects_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES organizations (id);
ALTER TABLE environments
  ADD CONSTRAINT environments_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id);
ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES organizations (id),
  ADD CONSTRAINT api_keys_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id),
  ADD CONSTRAINT api_keys_environment_fk FOREIGN KEY (environment_id)
    REFERENCES environments (id),
  ADD CONSTRAINT api_keys_replaced_by_key_id_fkey FOREIGN KEY (replaced_by_key_id)
    REFERENCES api_keys (id),
  ADD CONSTRAINT api_keys_rotated_from_fkey FOREIGN KEY (rotated_from) REFERENCES api_keys (id);
ALTER TABLE webhook_subscriptions
  ADD CONSTRAINT webhook_subscriptions_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES organizations (id),
  ADD CONSTRAINT webhook_subscriptions_project_id_fkey FOREIGN KEY (project_id)
    REFERENCES projects (id);
ALTER TABLE webhook_deliveries
  ADD CONSTRAINT webhook_deliveries_subscription_id_fkey FOREIGN KEY (subscription_id)
    REFERENCES webhook_subscriptions (id);
ALTER TABLE connections
  ADD CONSTRAINT connections_organization_id_fkey FOREIGN KEY (organization_id)
    REFERENCES organizations (id),
  ADD CONSTRAINT connections_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id);
ALTER TABLE rotation_deliveries
  ADD CONSTRAINT rotation_deliveries_old_key_id_fkey FOREIGN KEY (old_key_id)
    REFERENCES api_keys (id),
  ADD CONSTRAINT rotation_deliveries_new_key_id_fkey FOREIGN KEY (new_key_id)
    REFERENCES api_keys (id);

-- The history, in the ids its resources now have.
UPDATE outbox SET aggregate_id = l.id::text
  FROM legacy_ids l
 WHERE outbox.aggregate_id = l.uuid::text;
UPDATE outbox SET payload = pg_temp.meta_of(pg_temp.integer_ids_in(payload::text)::jsonb, payload)
 WHERE payload::text ~ '"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-';
UPDATE webhook_deliveries SET body = pg_temp.body_with_integer_ids(body)
 WHERE body ~ '"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-';
UPDATE rotation_deliveries SET payload = pg_temp.integer_ids_in(payload::text)::jsonb;

DROP FUNCTION pg_temp.body_with_integer_ids(text);
DROP FUNCTION pg_temp.meta_of(jsonb, jsonb);
DROP FUNCTION pg_temp.integer_ids_in(text);
DROP FUNCTION pg_temp.integer_id(uuid);
