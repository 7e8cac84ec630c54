-- Every step of the case: what notify keeps beyond the acknowledgment.

-- The parent's contact as submitted, plus what the messages need: the status page token, the urgency (quiet hours),
-- and the office that has the inquiry now (from routing's events).
ALTER TABLE contacts
    ADD COLUMN status_token text,
    ADD COLUMN urgent       boolean NOT NULL DEFAULT false,
    ADD COLUMN office_name  text;

-- Staff who can be written to, following staff.updated on psc.routing.staff.
CREATE TABLE staff (
    staff_id   text        PRIMARY KEY,
    role       text        NOT NULL,
    network_id text        NOT NULL,
    active     boolean     NOT NULL,
    name       text,
    email      text,
    updated_at timestamptz NOT NULL
);

-- Events about an inquiry whose contact notify does not know yet (routing's topic is not ordered with intake's):
-- kept, and handled once inquiry.submitted arrives. Nothing is lost.
CREATE TABLE waiting_events (
    event_id    uuid        PRIMARY KEY,
    inquiry_id  uuid        NOT NULL,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX waiting_events_inquiry ON waiting_events (inquiry_id);

-- Why an address is suppressed: 'opted_out' (STOP, unsubscribe link: START lifts it), 'bounced' (a permanent
-- failure), 'manual' (staff).
ALTER TABLE suppressions ADD COLUMN kind text NOT NULL DEFAULT 'manual'
    CHECK (kind IN ('opted_out', 'bounced', 'manual'));

-- The delivery log grows: the HTML part, whether mail carries List-Unsubscribe, the segments of a text, the message
-- this one stands in for (fallback to the other channel), the provider's last report.
ALTER TABLE deliveries
    ADD COLUMN html            text,
    ADD COLUMN essential       boolean NOT NULL DEFAULT true,
    ADD COLUMN segments        integer,
    ADD COLUMN fallback_of     uuid,
    ADD COLUMN audience        text    NOT NULL DEFAULT 'parent' CHECK (audience IN ('parent', 'staff')),
    ADD COLUMN provider_status text,
    ADD COLUMN error_code      text;
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id) WHERE provider_message_id IS NOT NULL;

-- Every attempt and what it left behind, and every provider report: the delivery log's detail.
CREATE TABLE delivery_attempts (
    id          bigserial   PRIMARY KEY,
    delivery_id uuid        NOT NULL,
    attempt     integer     NOT NULL,
    outcome     text        NOT NULL,
    detail      text,
    at          timestamptz NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- The variables a message was rendered with: a fallback to the other channel renders them again.
ALTER TABLE deliveries ADD COLUMN context jsonb NOT NULL DEFAULT '{}';

-- A provider's report that came before notify had recorded the send it is about (the callback raced the commit):
-- kept, and applied as soon as the send's MessageSid is recorded. Nothing reported is lost.
CREATE TABLE early_reports (
    message_sid text        NOT NULL,
    status      text        NOT NULL,
    error_code  text,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (message_sid, status)
);
