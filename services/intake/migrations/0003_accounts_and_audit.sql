-- Sign-in accounts: the staff of routing's directory as its staff.updated events tell intake (routing owns staff),
-- and the credentials of those who may sign in (argon2 hashes; the username is the staff id).
CREATE TABLE staff (
    id         text        PRIMARY KEY,
    role       text        NOT NULL,
    network_id text        NOT NULL,
    active     boolean     NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE credentials (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    disabled_at   timestamptz
);

-- Failed sign-ins, per username ('user:...') and per client ('client:...'), counted over a window by every replica.
CREATE TABLE sign_in_failures (
    subject   text        NOT NULL,
    failed_at timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, failed_at);

-- Every read of a parent's personal data: who (staff id or API key id), which inquiry, when, what.
CREATE TABLE audit_log (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL,
    actor_id       text        NOT NULL,
    actor_kind     text        NOT NULL CHECK (actor_kind IN ('staff', 'api_key')),
    actor_role     text,
    inquiry_id     uuid        NOT NULL,
    action         text        NOT NULL,
    correlation_id text        NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at, id);
CREATE INDEX audit_log_inquiry ON audit_log (inquiry_id, at, id);
