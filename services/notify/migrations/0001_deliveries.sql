-- What notify knows of each inquiry's parent: contact details and consent, as submitted.
CREATE TABLE contacts (
    inquiry_id   uuid        PRIMARY KEY,
    reference    text        NOT NULL,
    name         text        NOT NULL,
    email        text,
    mobile_phone text,
    language     text        NOT NULL,
    sms_consent  boolean     NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Addresses never to write to (bounces, opt-outs): checked before anything is queued.
CREATE TABLE suppressions (
    channel    text        NOT NULL CHECK (channel IN ('email', 'sms')),
    address    text        NOT NULL,
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, address)
);

-- The delivery log. dedup_key = event id + channel + recipient: a redelivered event never queues a second message.
CREATE TABLE deliveries (
    id                  uuid        PRIMARY KEY,
    dedup_key           text        NOT NULL UNIQUE,
    event_id            uuid        NOT NULL,
    correlation_id      text        NOT NULL,
    inquiry_id          uuid        NOT NULL,
    channel             text        NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient           text        NOT NULL,
    template            text        NOT NULL,
    language            text        NOT NULL,
    subject             text,
    body                text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')),
    reason              text,
    attempts            integer     NOT NULL DEFAULT 0,
    provider_message_id text,
    next_attempt_at     timestamptz NOT NULL,
    claimed_at          timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    sent_at             timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_sending ON deliveries (claimed_at) WHERE status = 'sending';
CREATE INDEX deliveries_inquiry ON deliveries (inquiry_id);
