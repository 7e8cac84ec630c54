-- The catalog's latest answer for each inquiry category: an acknowledgment whose category has an answer fresher than
-- PSC_NOTIFY_RESOURCES_FRESH_SECONDS names its resources at once and waits for nothing. answered_at is on the
-- database's wall clock (clock_timestamp()), like resource_lookups.release_at. results: the ResourceViews as JSON.
CREATE TABLE catalog_answers (
    category    text        PRIMARY KEY,
    results     jsonb       NOT NULL,
    answered_at timestamptz NOT NULL
);
-- A reply settles every acknowledgment of its category still waiting, not only its own.
CREATE INDEX resource_lookups_waiting_category ON resource_lookups (category) WHERE outcome IS NULL;
