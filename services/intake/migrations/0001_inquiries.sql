-- Inquiries as entered; parent and student details are kept as submitted (validated) JSON.
CREATE SEQUENCE inquiry_reference_seq;

CREATE TABLE inquiries (
    id             uuid        PRIMARY KEY,
    reference      text        NOT NULL UNIQUE,
    status         text        NOT NULL,
    category       text        NOT NULL,
    channel        text        NOT NULL,
    description    text        NOT NULL,
    parent         jsonb       NOT NULL,
    student        jsonb       NOT NULL,
    submitted_by   text,
    source         text        NOT NULL CHECK (source IN ('http', 'kafka')),
    correlation_id text        NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    -- What routing decided, as its events tell us (intake never reads routing's tables).
    network_id     text,
    network_name   text,
    queue          text,
    tier           text,
    assigned_at    timestamptz,
    due_at         timestamptz
);
CREATE INDEX inquiries_created_at ON inquiries (created_at);

-- A key seen once stands for one inquiry; the fingerprint tells a retry from a different request reusing the key.
CREATE TABLE idempotency_keys (
    key         text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    inquiry_id  uuid        NOT NULL REFERENCES inquiries (id) DEFERRABLE INITIALLY DEFERRED,
    created_at  timestamptz NOT NULL DEFAULT now()
);
