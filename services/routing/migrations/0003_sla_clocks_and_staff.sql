-- SLA clocks that fire: the staff directory (routing owns it), each inquiry's clocks on its assignment row, what
-- fired (history), and emergency closures. The policies move to services/routing/policies/sla.yaml.

CREATE TABLE staff (
    id         text        PRIMARY KEY,
    name       text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('network_staff', 'psa', 'central_staff')),
    network_id text        NOT NULL REFERENCES networks (id),
    active     boolean     NOT NULL DEFAULT true,
    -- Open inquiries assigned to them, kept in the same transactions that assign and release: least-loaded first.
    open_load  integer     NOT NULL DEFAULT 0 CHECK (open_load >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_network ON staff (network_id, role);

-- An assignment row is the inquiry's routing state: where it is, who has it, and its two clocks in the tier that
-- has it (target and elapsed business seconds, running since, stopped, warned). next_due_at is when the next
-- warning, escalation or breach fires: the deadline worker claims due rows with FOR UPDATE SKIP LOCKED.
ALTER TABLE assignments
    ADD COLUMN urgency         text        NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent')),
    ADD COLUMN assignee_id     text        REFERENCES staff (id),
    ADD COLUMN status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    ADD COLUMN tier_started_at timestamptz,
    ADD COLUMN fr_target       integer,
    ADD COLUMN fr_elapsed      integer     NOT NULL DEFAULT 0,
    ADD COLUMN fr_since        timestamptz,
    ADD COLUMN fr_stopped      boolean     NOT NULL DEFAULT false,
    ADD COLUMN fr_warned       boolean     NOT NULL DEFAULT false,
    ADD COLUMN res_target      integer,
    ADD COLUMN res_elapsed     integer     NOT NULL DEFAULT 0,
    ADD COLUMN res_since       timestamptz,
    ADD COLUMN res_stopped     boolean     NOT NULL DEFAULT false,
    ADD COLUMN res_warned      boolean     NOT NULL DEFAULT false,
    ADD COLUMN due_at          timestamptz,
    ADD COLUMN next_due_at     timestamptz,
    ADD COLUMN breached_at     timestamptz;

-- Inquiries assigned before clocks existed keep their stored due time for reading, and never fire (no clocks).
UPDATE assignments a SET due_at = d.due_at FROM deadlines d WHERE d.inquiry_id = a.inquiry_id AND d.tier = a.tier;
DROP TABLE deadlines;
DROP TABLE sla_policies;

CREATE INDEX assignments_next_due ON assignments (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX assignments_open_by_network ON assignments (network_id) WHERE status = 'open';
CREATE INDEX assignments_open_by_school ON assignments (school_id) WHERE status = 'open';

-- What fired or moved, per inquiry, for the operators' view (the events themselves leave through the outbox).
CREATE TABLE sla_history (
    id          bigserial   PRIMARY KEY,
    inquiry_id  uuid        NOT NULL,
    event_type  text        NOT NULL,
    tier        text        NOT NULL,
    clock       text,
    to_tier     text,
    network_id  text,
    assignee_id text,
    due_at      timestamptz,
    detail      text,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX sla_history_inquiry ON sla_history (inquiry_id, id);

-- Emergency closure days (POST /v1/calendar/closures): read by every replica in each transaction that counts time.
CREATE TABLE calendar_closures (
    day      date        PRIMARY KEY,
    reason   text        NOT NULL,
    added_at timestamptz NOT NULL
);
