-- Routing's staff directory as its staff.updated events tell the catalog (routing owns staff): only what access
-- control needs, so a token of a staff member made inactive is refused at once rather than when it expires.
-- updated_at is the event's time: an older event never overwrites a newer one.
CREATE TABLE staff (
    staff_id   text        PRIMARY KEY,
    role       text        NOT NULL,
    network_id text        NOT NULL,
    active     boolean     NOT NULL,
    updated_at timestamptz NOT NULL
);
