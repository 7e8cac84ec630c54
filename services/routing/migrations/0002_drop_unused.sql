-- What nothing reads or writes goes, so the schema shows what routing does today. The issue that builds escalation
-- (network, then PSA, then central) adds back what firing deadlines needs, with its own migration.

-- Staff roles were never filled: there are no directory updates yet.
DROP TABLE staff_roles;

-- The school list has grades_offered, but routing never loaded it (services/routing/data/README.md).
ALTER TABLE schools DROP COLUMN grades_offered;

-- Nothing fires or cancels a deadline yet: a deadline is an inquiry, a tier and its due time.
DROP INDEX deadlines_due;
ALTER TABLE deadlines DROP COLUMN fired_at, DROP COLUMN cancelled_at;
