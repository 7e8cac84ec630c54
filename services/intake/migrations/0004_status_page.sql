-- The parent's status page (GET /v1/status/{reference}).

-- Each inquiry's status token, as its SHA-256: the token itself goes only to the parent, in the acknowledgment's link.
CREATE TABLE status_tokens (
    inquiry_id uuid  PRIMARY KEY REFERENCES inquiries (id) DEFERRABLE INITIALLY DEFERRED,
    digest     bytea NOT NULL
);

-- Attempts on the status page in fixed windows, per reference (known or not) and per client (a hash of its address),
-- shared by every replica. A proven attempt is taken back, so what stays counted are the failures.
CREATE TABLE status_attempts (
    scope       text        NOT NULL CHECK (scope IN ('reference', 'client')),
    key         text        NOT NULL,
    attempts    integer     NOT NULL,
    window_ends timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX status_attempts_window_ends ON status_attempts (window_ends);
