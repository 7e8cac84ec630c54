-- The case lifecycle: who has it now, when a resolved inquiry closes by itself, notes, history, links, and the
-- idempotency keys of staff actions.
ALTER TABLE inquiries
    ADD COLUMN assignee_id  text,
    ADD COLUMN resolved_at  timestamptz,
    ADD COLUMN close_due_at timestamptz;

-- The closing sweep claims due rows through this index (FOR UPDATE SKIP LOCKED).
CREATE INDEX inquiries_close_due ON inquiries (close_due_at) WHERE status = 'resolved';
-- The staff queue: newest first, by status or by network and status.
CREATE INDEX inquiries_status_created ON inquiries (status, created_at DESC, id DESC);
CREATE INDEX inquiries_network_created ON inquiries (network_id, status, created_at DESC, id DESC);
CREATE INDEX inquiries_list_created ON inquiries (created_at DESC, id DESC);
-- Likely duplicates (the same student and category within a window) and the queue's school filter.
CREATE INDEX inquiries_same_student ON inquiries ((student ->> 'school_id'), category, created_at);

-- Texts staff write or record on a case; never in an event (but the question and the summary) nor in a log.
CREATE TABLE notes (
    id                uuid        PRIMARY KEY,
    inquiry_id        uuid        NOT NULL REFERENCES inquiries (id),
    kind              text        NOT NULL
        CHECK (kind IN ('note', 'question', 'parent_reply', 'resolution', 'reopen_reason')),
    text              text        NOT NULL,
    visible_to_parent boolean     NOT NULL,
    by                text        NOT NULL,
    created_at        timestamptz NOT NULL
);
CREATE INDEX notes_inquiry ON notes (inquiry_id, created_at);

-- Everything that happened to a case, in order: intake's changes, routing's and notify's events (stored once each).
CREATE TABLE history (
    id          bigserial   PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    inquiry_id  uuid        NOT NULL,
    event_type  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    source      text        NOT NULL CHECK (source IN ('intake', 'routing', 'notify')),
    by          text,
    note_id     uuid        REFERENCES notes (id),
    detail      jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX history_inquiry ON history (inquiry_id, occurred_at, id);

-- Inquiries linked to others: never merged, both stay as they were.
CREATE TABLE links (
    inquiry_id        uuid        NOT NULL REFERENCES inquiries (id),
    linked_inquiry_id uuid        NOT NULL REFERENCES inquiries (id),
    relation          text        NOT NULL CHECK (relation IN ('duplicate_of', 'likely_duplicate_of', 'follow_up_of')),
    by                text        NOT NULL,
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (inquiry_id, linked_inquiry_id)
);
CREATE INDEX links_linked ON links (linked_inquiry_id);

-- Idempotency-Key of a staff action: the same key and request applies once; the answer is given again.
CREATE TABLE action_keys (
    key         text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    inquiry_id  uuid        NOT NULL,
    answer_id   uuid,
    status_code integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
