-- The directory: network offices and the schools each serves (loaded from the district's school list at start).
CREATE TABLE networks (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('network', 'central')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
    id             integer PRIMARY KEY,
    short_name     text NOT NULL,
    long_name      text NOT NULL,
    network_id     text REFERENCES networks (id),
    grades_offered text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schools_network ON schools (network_id);

-- Staff roles per network (network staff, Parent Support Administrator); filled by directory updates.
CREATE TABLE staff_roles (
    network_id text NOT NULL REFERENCES networks (id),
    role       text NOT NULL CHECK (role IN ('network_staff', 'psa', 'central_staff')),
    staff_id   text NOT NULL,
    PRIMARY KEY (network_id, role, staff_id)
);

-- How long each tier has, in business days, by inquiry category.
CREATE TABLE sla_policies (
    category              text PRIMARY KEY,
    network_business_days integer NOT NULL CHECK (network_business_days > 0),
    psa_business_days     integer NOT NULL CHECK (psa_business_days > 0)
);
INSERT INTO sla_policies (category, network_business_days, psa_business_days) VALUES
    ('special_education', 2, 2),
    ('safety_and_bullying', 1, 1),
    ('attendance', 3, 2),
    ('enrollment', 3, 2),
    ('transportation', 2, 1),
    ('academics', 3, 2),
    ('health_and_wellness', 2, 2),
    ('other', 3, 2);

CREATE TABLE assignments (
    inquiry_id  uuid        PRIMARY KEY,
    category    text        NOT NULL,
    school_id   integer     NOT NULL,
    network_id  text        NOT NULL REFERENCES networks (id),
    queue       text        NOT NULL,
    tier        text        NOT NULL,
    reason      text        NOT NULL,
    assigned_at timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Durable deadlines: any replica may fire a due one (FOR UPDATE SKIP LOCKED), together with its outbox event.
CREATE TABLE deadlines (
    inquiry_id   uuid        NOT NULL REFERENCES assignments (inquiry_id),
    tier         text        NOT NULL,
    due_at       timestamptz NOT NULL,
    fired_at     timestamptz,
    cancelled_at timestamptz,
    PRIMARY KEY (inquiry_id, tier)
);
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
