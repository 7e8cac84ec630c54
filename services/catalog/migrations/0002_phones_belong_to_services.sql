-- A phone belongs to a service: no code writes or reads an organization's or a location's phone. The columns go, and
-- with them the check that a phone has exactly one owner; service_id NOT NULL keeps that rule.
ALTER TABLE phone DROP COLUMN organization_id, DROP COLUMN location_id;
ALTER TABLE phone ALTER COLUMN service_id SET NOT NULL;
