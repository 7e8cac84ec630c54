-- The one-stop shop (issue 11): Spanish text beside the English, contacts, schedules (opening hours and dated events
-- with recurrence rules), the district's schools as locations, search in English and Spanish with accents folded, a
-- lexicon for typo correction, and referrals of inquiries to departments.

-- Accents folded in both search configurations. Like pg_trgm, unaccent is database-wide and lives in public; the two
-- configurations live in this schema (the connections' search_path), so the catalog's SQL names them unqualified.
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;

CREATE TEXT SEARCH CONFIGURATION psc_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION psc_english
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, english_stem;
CREATE TEXT SEARCH CONFIGURATION psc_spanish (COPY = pg_catalog.spanish);
ALTER TEXT SEARCH CONFIGURATION psc_spanish
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, spanish_stem;

-- What parents read, in other languages: {"es": {"name": ..., "description": ..., "eligibility_description": ...}}.
ALTER TABLE service
    ADD COLUMN translations jsonb    NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN network      text,
    ADD COLUMN grades       smallint[];
CREATE INDEX service_network ON service (network);

ALTER TABLE organization ADD COLUMN translations jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Offices and schools. A school's grades as numbers (PE -2, PK -1, K 0, then 1 to 12), its classroom languages as
-- the list names them and as ISO codes where known.
ALTER TABLE location
    ADD COLUMN kind              text     NOT NULL DEFAULT 'office' CHECK (kind IN ('office', 'school')),
    ADD COLUMN school_id         text     UNIQUE,
    ADD COLUMN network           text,
    ADD COLUMN grades_offered    text,
    ADD COLUMN grades            smallint[],
    ADD COLUMN languages         text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN language_codes    text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN bilingual_services boolean,
    ADD COLUMN phone             text,
    ADD COLUMN school_category   text;
CREATE INDEX location_kind_network ON location (kind, network);
CREATE INDEX location_language_codes ON location USING gin (language_codes);

-- HSDS contact: who to ask for at a service (a network office's Parent Support Administrator).
CREATE TABLE contact (
    id         text     PRIMARY KEY,
    service_id text     NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    name       text,
    title      text     NOT NULL,
    department text,
    email      text,
    phone      text,
    translations jsonb  NOT NULL DEFAULT '{}'::jsonb,
    position   smallint NOT NULL
);
CREATE INDEX contact_service ON contact (service_id);

-- HSDS schedule: a service's opening hours (weekly, opens_at..closes_at) or a dated event (dtstart, duration and an
-- RFC 5545 recurrence rule), all in a named time zone (America/Chicago); an event has its language and place.
CREATE TABLE schedule (
    id               text     PRIMARY KEY,
    service_id       text     NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    location_id      text     REFERENCES location (id),
    kind             text     NOT NULL CHECK (kind IN ('opening_hours', 'event')),
    name             text,
    description      text,
    translations     jsonb    NOT NULL DEFAULT '{}'::jsonb,
    language         text,
    byday            text[]   NOT NULL DEFAULT '{}',
    opens_at         time,
    closes_at        time,
    dtstart          timestamp,
    duration_minutes integer  CHECK (duration_minutes > 0),
    rrule            text,
    timezone         text     NOT NULL DEFAULT 'America/Chicago',
    position         smallint NOT NULL
);
CREATE INDEX schedule_service ON schedule (service_id, kind);

-- Every word of the directory's text (accents folded) and of the synonyms file: typed words not in it are corrected to
-- the nearest one by trigram similarity.
CREATE TABLE search_lexicon (word text PRIMARY KEY);
CREATE INDEX search_lexicon_trigrams ON search_lexicon USING gin (word public.gin_trgm_ops);

-- A staff member refers an inquiry to a department; the department answers by the reply deadline (business days,
-- America/Chicago). The network keeps the case: a referral changes no assignment.
CREATE TABLE referral (
    id             uuid        PRIMARY KEY,
    inquiry_id     uuid        NOT NULL,
    service_id     text        NOT NULL REFERENCES service (id),
    referred_by    text        NOT NULL,
    network_id     text        NOT NULL,
    reason         text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('open', 'answered')),
    referred_at    timestamptz NOT NULL,
    reply_due_at   timestamptz NOT NULL,
    answered_at    timestamptz,
    answered_by    text,
    answer         text,
    request_key    text        UNIQUE
);
CREATE INDEX referral_inquiry ON referral (inquiry_id, referred_at);
CREATE INDEX referral_open_due ON referral (reply_due_at) WHERE status = 'open';
