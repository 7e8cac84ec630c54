-- The acknowledgments waiting for the catalog's resources: one lookup per inquiry.submitted (request_id derived from
-- the event id). release_at is on the database's wall clock (clock_timestamp()): the wait lasts as long on the wall
-- whatever the service clock does (sped up, or a test's fixed clock). outcome stays NULL while it waits; the reply
-- ('answered', 'rejected') or the sweep ('timed_out') settles it once, whichever locks the row first.
CREATE TABLE resource_lookups (
    request_id   uuid        PRIMARY KEY,
    inquiry_id   uuid        NOT NULL,
    event_id     uuid        NOT NULL,
    category     text        NOT NULL,
    language     text        NOT NULL,
    requested_at timestamptz NOT NULL,
    release_at   timestamptz NOT NULL,
    outcome      text        CHECK (outcome IN ('answered', 'rejected', 'timed_out')),
    resources    integer,
    settled_at   timestamptz
);
CREATE INDEX resource_lookups_waiting ON resource_lookups (release_at) WHERE outcome IS NULL;
CREATE INDEX resource_lookups_inquiry ON resource_lookups (inquiry_id);
