-- The resource directory, shaped after HSDS 3.0 (simplified): organizations offer services at locations, reachable by
-- phones, in languages, filed under taxonomy terms.

-- Trigram matching for names typed with a typo. Extensions are database-wide, so pg_trgm goes to the schema every
-- database has (public) rather than this service's, and the catalog's SQL names its objects schema-qualified: the
-- connections' search_path holds only "catalog".
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE organization (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text,
    email       text,
    website     text
);

CREATE TABLE service (
    id                      text        PRIMARY KEY,
    organization_id         text        NOT NULL REFERENCES organization (id),
    name                    text        NOT NULL,
    alternate_name          text,
    description             text        NOT NULL,
    url                     text,
    email                   text,
    status                  text        NOT NULL CHECK (status IN ('active', 'inactive')),
    eligibility_description text,
    fees_description        text,
    updated_at              timestamptz NOT NULL,
    -- Hash of what the last upsert said about the service itself: an identical upsert (a restart's seed, a redelivery)
    -- is recognised and changes nothing.
    fingerprint             text        NOT NULL,
    -- The search document, rewritten by the upsert code whenever the service, its organization or its terms change:
    -- name (A); organization name, alternate name, taxonomy names (B); description, eligibility (C).
    search_vector           tsvector    NOT NULL DEFAULT ''::tsvector
);
CREATE INDEX service_organization ON service (organization_id);
CREATE INDEX service_search ON service USING gin (search_vector);
CREATE INDEX service_name_trigrams ON service USING gin (name public.gin_trgm_ops);

CREATE TABLE location (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organization (id),
    name            text NOT NULL,
    address_1       text NOT NULL,
    city            text NOT NULL,
    state_province  text NOT NULL,
    postal_code     text NOT NULL,
    latitude        double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude       double precision CHECK (longitude BETWEEN -180 AND 180)
);
CREATE INDEX location_organization ON location (organization_id);

CREATE TABLE service_at_location (
    service_id  text     NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    location_id text     NOT NULL REFERENCES location (id),
    position    smallint NOT NULL,
    PRIMARY KEY (service_id, location_id)
);
CREATE INDEX service_at_location_location ON service_at_location (location_id);

-- HSDS lets a phone belong to a service, an organization or a location: exactly one of them.
CREATE TABLE phone (
    id              text     PRIMARY KEY,
    service_id      text     REFERENCES service (id) ON DELETE CASCADE,
    organization_id text     REFERENCES organization (id) ON DELETE CASCADE,
    location_id     text     REFERENCES location (id) ON DELETE CASCADE,
    number          text     NOT NULL,
    extension       text,
    type            text     NOT NULL CHECK (type IN ('voice', 'fax', 'text')),
    description     text,
    position        smallint NOT NULL,
    CHECK (num_nonnulls(service_id, organization_id, location_id) = 1)
);
CREATE INDEX phone_service ON phone (service_id);

CREATE TABLE language (
    service_id text     NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    code       text     NOT NULL CHECK (code ~ '^[a-z]{2}$'),
    name       text,
    position   smallint NOT NULL,
    PRIMARY KEY (service_id, code)
);
CREATE INDEX language_code ON language (code);

CREATE TABLE taxonomy_term (
    id         text PRIMARY KEY,
    code       text NOT NULL,
    name       text NOT NULL,
    vocabulary text NOT NULL,
    UNIQUE (vocabulary, code)
);

CREATE TABLE service_taxonomy (
    service_id       text     NOT NULL REFERENCES service (id) ON DELETE CASCADE,
    taxonomy_term_id text     NOT NULL REFERENCES taxonomy_term (id),
    position         smallint NOT NULL,
    PRIMARY KEY (service_id, taxonomy_term_id)
);
CREATE INDEX service_taxonomy_term ON service_taxonomy (taxonomy_term_id);
