"""All of the catalog's SQL: ``ResourceRepository`` on a unit of work's connection (``uow.resources``), its methods
taking keyword-only arguments and returning the domain's types.

A resource's view (service, organization, categories, languages, phones, locations) is built by PostgreSQL as JSON in
the same statement that finds the services, so a page of results is one query whatever its length.
pg_trgm lives in schema public (see the migration), hence ``public.`` before its functions and operators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from services.catalog.domain import (
    VOCABULARY,
    EventSchedule,
    Everything,
    FullText,
    Fuzzy,
    LocationFilters,
    Match,
    ResourcePage,
    SearchFilters,
    TaxonomyTerm,
    language_name,
)
from services.catalog.places import GRADE_NUMBERS, School
from services.catalog.referrals import AwaitingReply, DueReferral, MovedDue, NewReferral
from shared.contracts.catalog import (
    ContactDetails,
    LocationDetails,
    LocationView,
    OrganizationDetails,
    PhoneDetails,
    ReferralView,
    ResourceCategory,
    ResourceView,
    ScheduleDetails,
    ScheduleView,
    ServiceDetails,
    Translation,
)

# Great-circle distance in km from the point ($9, $10) (places.distance_km computes the same in Python).
_HAVERSINE = (
    "2 * 6371.0088 * asin(sqrt(power(sin(radians({lat} - $9) / 2), 2)"
    " + cos(radians($9)) * cos(radians({lat})) * power(sin(radians({lon} - $10) / 2), 2)))"
)

_GRADE_CODE = "CASE g WHEN -2 THEN 'PE' WHEN -1 THEN 'PK' WHEN 0 THEN 'K' ELSE g::text END"

_VIEW = f"""json_build_object(
    'id', s.id,
    'name', s.name,
    'alternate_name', s.alternate_name,
    'description', s.description,
    'status', s.status,
    'organization', json_build_object('id', o.id, 'name', o.name),
    'categories', coalesce((
        SELECT json_agg(t.code ORDER BY st.position)
        FROM service_taxonomy st JOIN taxonomy_term t ON t.id = st.taxonomy_term_id
        WHERE st.service_id = s.id), '[]'),
    'languages', coalesce((
        SELECT json_agg(lang.code ORDER BY lang.position) FROM language lang WHERE lang.service_id = s.id), '[]'),
    'phones', coalesce((
        SELECT json_agg(json_build_object(
            'number', p.number, 'extension', p.extension, 'type', p.type, 'description', p.description)
            ORDER BY p.position)
        FROM phone p WHERE p.service_id = s.id), '[]'),
    'locations', coalesce((
        SELECT json_agg(json_build_object(
            'id', loc.id, 'name', loc.name, 'address_1', loc.address_1, 'city', loc.city,
            'state_province', loc.state_province, 'postal_code', loc.postal_code,
            'latitude', loc.latitude, 'longitude', loc.longitude)
            ORDER BY sal.position)
        FROM service_at_location sal JOIN location loc ON loc.id = sal.location_id
        WHERE sal.service_id = s.id), '[]'),
    'url', s.url,
    'email', s.email,
    'eligibility_description', s.eligibility_description,
    'fees_description', s.fees_description,
    'updated_at', s.updated_at,
    'translations', s.translations,
    'network', s.network,
    'grades', coalesce((SELECT json_agg({_GRADE_CODE} ORDER BY g) FROM unnest(s.grades) g), '[]'),
    'contacts', coalesce((
        SELECT json_agg(json_build_object(
            'name', c.name, 'title', c.title, 'department', c.department, 'email', c.email, 'phone', c.phone,
            'translations', c.translations) ORDER BY c.position)
        FROM contact c WHERE c.service_id = s.id), '[]'),
    'schedules', coalesce((
        SELECT json_agg(json_build_object(
            'id', h.id, 'kind', h.kind, 'name', h.name, 'description', h.description,
            'translations', h.translations, 'language', h.language, 'byday', h.byday,
            'opens_at', h.opens_at, 'closes_at', h.closes_at, 'dtstart', h.dtstart,
            'duration_minutes', h.duration_minutes, 'rrule', h.rrule, 'timezone', h.timezone,
            'location_id', h.location_id) ORDER BY h.position)
        FROM schedule h WHERE h.service_id = s.id), '[]')
)"""  # noqa: S608 (fixed text)

# The search document, English text with the English configuration and Spanish text with the Spanish one (both fold
# accents); the weights rank a hit in a name above one in a description, and both above an event's title.
_SEARCH_VECTOR = """
    setweight(to_tsvector('psc_english', s.name), 'A')
    || setweight(to_tsvector('psc_spanish', coalesce(s.translations->'es'->>'name', '')), 'A')
    || setweight(to_tsvector('psc_english', concat_ws(' ', o.name, s.alternate_name, (
        SELECT string_agg(t.name, ' ')
        FROM service_taxonomy st JOIN taxonomy_term t ON t.id = st.taxonomy_term_id
        WHERE st.service_id = s.id))), 'B')
    || setweight(to_tsvector('psc_spanish', concat_ws(' ', s.alternate_name, o.translations->'es'->>'name')), 'B')
    || setweight(to_tsvector('psc_english', concat_ws(' ', s.description, s.eligibility_description, s.network, (
        SELECT string_agg(concat_ws(' ', c.title, c.department), ' ') FROM contact c WHERE c.service_id = s.id))), 'C')
    || setweight(to_tsvector('psc_spanish', concat_ws(' ', s.translations->'es'->>'description',
        s.translations->'es'->>'eligibility_description', (
        SELECT string_agg(c.translations->'es'->>'name', ' ') FROM contact c WHERE c.service_id = s.id))), 'C')
    || setweight(to_tsvector('psc_english', coalesce((
        SELECT string_agg(concat_ws(' ', h.name, h.description), ' ') FROM schedule h
        WHERE h.service_id = s.id AND h.kind = 'event'), '')), 'D')
    || setweight(to_tsvector('psc_spanish', coalesce((
        SELECT string_agg(concat_ws(' ', h.translations->'es'->>'name', h.translations->'es'->>'description'), ' ')
        FROM schedule h WHERE h.service_id = s.id AND h.kind = 'event'), '')), 'D')
"""

# One statement per way of matching, below; everything a caller gives is a parameter ($5: the match's text). Filters:
# $1 category, $2 language, $6 network, $7 grade (a number), $8 a moment the service must be open at, $9/$10 a point
# and $11 a radius (km) around it: the nearest location of the service counts.
_TSQUERY = "(to_tsquery('psc_english', $5) || to_tsquery('psc_spanish', $5))"
_SEARCH = f"""
WITH hits AS (
    SELECT s.id, s.name, {{rank}} AS rank, near.km AS distance
    FROM service s
    LEFT JOIN LATERAL (
        SELECT min({_HAVERSINE.format(lat="loc.latitude", lon="loc.longitude")}) AS km
        FROM service_at_location sal JOIN location loc ON loc.id = sal.location_id
        WHERE $9::float8 IS NOT NULL AND sal.service_id = s.id AND loc.latitude IS NOT NULL
    ) near ON true
    WHERE s.status = 'active'
      AND {{condition}}
      AND ($1::text IS NULL OR EXISTS (
          SELECT 1 FROM service_taxonomy st JOIN taxonomy_term t ON t.id = st.taxonomy_term_id
          WHERE st.service_id = s.id AND t.code = $1))
      AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM language lang WHERE lang.service_id = s.id AND lang.code = $2))
      AND ($6::text IS NULL OR s.network = $6 OR EXISTS (
          SELECT 1 FROM service_at_location sal JOIN location loc ON loc.id = sal.location_id
          WHERE sal.service_id = s.id AND loc.network = $6))
      AND ($7::smallint IS NULL OR s.grades IS NULL OR cardinality(s.grades) = 0 OR $7 = ANY (s.grades))
      AND ($8::timestamptz IS NULL OR EXISTS (
          SELECT 1 FROM schedule h
          WHERE h.service_id = s.id AND h.kind = 'opening_hours'
            AND upper(left(to_char($8 AT TIME ZONE h.timezone, 'DY'), 2)) = ANY (h.byday)
            AND ($8 AT TIME ZONE h.timezone)::time >= h.opens_at
            AND ($8 AT TIME ZONE h.timezone)::time < h.closes_at))
      AND ($9::float8 IS NULL OR near.km <= $11)
), page AS (
    SELECT id, name, rank, distance FROM hits ORDER BY rank DESC, distance NULLS LAST, name, id LIMIT $3 OFFSET $4
)
SELECT
    (SELECT count(*) FROM hits) AS total,
    coalesce((
        SELECT json_agg(
            ({_VIEW})::jsonb || jsonb_build_object('distance_km', round(page.distance::numeric, 3))
            ORDER BY page.rank DESC, page.distance NULLS LAST, page.name, page.id)
        FROM page JOIN service s ON s.id = page.id JOIN organization o ON o.id = s.organization_id
    ), '[]') AS results
"""  # noqa: S608 (fixed text)

_SEARCHES: dict[type[Match], str] = {
    FullText: _SEARCH.format(
        condition=f"s.search_vector @@ {_TSQUERY}",
        # A name close to the words typed comes first among the hits ('community partners': Community Partners).
        rank=f"ts_rank(s.search_vector, {_TSQUERY}) + 0.5 * greatest(public.similarity(s.name, $12),"
        " public.similarity(coalesce(s.translations->'es'->>'name', ''), $12))",
    ),
    Fuzzy: _SEARCH.format(
        condition="($12::text IS NULL OR true) AND ($5 OPERATOR(public.<%) s.name"
        " OR $5 OPERATOR(public.<%) coalesce(s.translations->'es'->>'name', ''))",
        rank="greatest(public.word_similarity($5, s.name),"
        " public.word_similarity($5, coalesce(s.translations->'es'->>'name', '')))",
    ),
    Everything: _SEARCH.format(condition="($5::text IS NULL OR true) AND ($12::text IS NULL OR true)", rank="0::real"),
}

_GET_SERVICES = f"""
SELECT {_VIEW} AS view FROM service s JOIN organization o ON o.id = s.organization_id WHERE s.id = ANY($1::text[])
"""  # noqa: S608 (fixed text)

_TOUCH_SERVICES = f"""
UPDATE service s SET updated_at = $4, search_vector = {_SEARCH_VECTOR}
FROM organization o
WHERE o.id = s.organization_id
  AND (s.id = ANY($1::text[]) OR s.organization_id = ANY($2::text[]) OR EXISTS (
      SELECT 1 FROM service_at_location sal WHERE sal.service_id = s.id AND sal.location_id = ANY($3::text[])))
RETURNING s.id
"""  # noqa: S608 (fixed text)

_REFRESH_SEARCH_DOCUMENTS = f"""
UPDATE service s SET search_vector = {_SEARCH_VECTOR}
FROM organization o
WHERE o.id = s.organization_id AND EXISTS (
    SELECT 1 FROM service_taxonomy st WHERE st.service_id = s.id AND st.taxonomy_term_id = ANY($1::text[]))
"""  # noqa: S608 (fixed text)


class ResourceRepository:
    """The directory (organizations, services, locations, phones, languages, taxonomy) in the catalog's schema."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def search_services(self, *, match: Match, filters: SearchFilters, limit: int, offset: int) -> ResourcePage:
        """One page of active services that match, best first, with the total count: one statement."""
        text = match.tsquery if isinstance(match, FullText) else match.text if isinstance(match, Fuzzy) else None
        near = filters.near
        row = await self._conn.fetchrow(
            _SEARCHES[type(match)],
            filters.category.value if filters.category else None,
            filters.language,
            limit,
            offset,
            text,
            filters.network,
            filters.grade,
            filters.open_at,
            near.latitude if near else None,
            near.longitude if near else None,
            near.radius_km if near else None,
            match.text if isinstance(match, FullText) else None,
        )
        assert row is not None
        return ResourcePage(total=row["total"], results=[ResourceView.model_validate(item) for item in row["results"]])

    async def all_service_ids(self) -> list[str]:
        return [row["id"] for row in await self._conn.fetch("SELECT id FROM service ORDER BY id")]

    async def get_services(self, *, service_ids: Sequence[str]) -> dict[str, ResourceView]:
        rows = await self._conn.fetch(_GET_SERVICES, list(service_ids))
        return {row["view"]["id"]: ResourceView.model_validate(row["view"]) for row in rows}

    async def ensure_taxonomy(self, *, terms: Sequence[TaxonomyTerm]) -> list[str]:
        """Insert missing terms, rename renamed ones; return the ids of those added or changed."""
        rows = await self._conn.fetch(
            "INSERT INTO taxonomy_term (id, code, name, vocabulary)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
            " ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, name = EXCLUDED.name,"
            " vocabulary = EXCLUDED.vocabulary"
            " WHERE (taxonomy_term.code, taxonomy_term.name, taxonomy_term.vocabulary)"
            " IS DISTINCT FROM (EXCLUDED.code, EXCLUDED.name, EXCLUDED.vocabulary)"
            " RETURNING id",
            [t.id for t in terms],
            [t.code for t in terms],
            [t.name for t in terms],
            [t.vocabulary for t in terms],
        )
        return [row["id"] for row in rows]

    async def lock_for_seeding(self) -> None:
        """Replicas starting together load the seed one after the other (inside the caller's transaction)."""
        await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('psc.catalog.seed'))")

    async def location_owners(self, *, location_ids: Sequence[str]) -> dict[str, str]:
        if not location_ids:
            return {}
        rows = await self._conn.fetch(
            "SELECT id, organization_id FROM location WHERE id = ANY($1::text[])", list(location_ids)
        )
        return {row["id"]: row["organization_id"] for row in rows}

    async def upsert_organization(self, *, organization: OrganizationDetails) -> bool:
        """Add or change the organization; True when a row was written (new, or any column differed)."""
        written = await self._conn.fetchval(
            "INSERT INTO organization (id, name, description, email, website, translations)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
            " email = EXCLUDED.email, website = EXCLUDED.website, translations = EXCLUDED.translations"
            " WHERE (organization.name, organization.description, organization.email, organization.website,"
            " organization.translations)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.email, EXCLUDED.website,"
            " EXCLUDED.translations)"
            " RETURNING true",
            organization.id,
            organization.name,
            organization.description,
            organization.email,
            _text(organization.website),
            _translations(organization.translations),
        )
        return written is True

    async def upsert_locations(self, *, organization_id: str, locations: Sequence[LocationDetails]) -> list[str]:
        """Add or change the organization's locations; return the ids written (new, or any column differed).

        A location of another organization is never changed here (``domain.location_conflicts`` refuses that first).
        """
        if not locations:
            return []
        rows = await self._conn.fetch(
            "INSERT INTO location (id, organization_id, name, address_1, city, state_province, postal_code,"
            " latitude, longitude)"
            " SELECT u.id, $1, u.name, u.address_1, u.city, u.state_province, u.postal_code, u.latitude, u.longitude"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[],"
            " $9::float8[]) AS u (id, name, address_1, city, state_province, postal_code, latitude, longitude)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, address_1 = EXCLUDED.address_1,"
            " city = EXCLUDED.city, state_province = EXCLUDED.state_province, postal_code = EXCLUDED.postal_code,"
            " latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude"
            " WHERE location.organization_id = EXCLUDED.organization_id"
            " AND (location.name, location.address_1, location.city, location.state_province, location.postal_code,"
            " location.latitude, location.longitude)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.address_1, EXCLUDED.city, EXCLUDED.state_province,"
            " EXCLUDED.postal_code, EXCLUDED.latitude, EXCLUDED.longitude)"
            " RETURNING id",
            organization_id,
            [loc.id for loc in locations],
            [loc.name for loc in locations],
            [loc.address_1 for loc in locations],
            [loc.city for loc in locations],
            [loc.state_province for loc in locations],
            [loc.postal_code for loc in locations],
            [loc.latitude for loc in locations],
            [loc.longitude for loc in locations],
        )
        return [row["id"] for row in rows]

    async def upsert_service(
        self,
        *,
        service_id: str,
        organization_id: str,
        service: ServiceDetails,
        fingerprint: str,
        now: datetime,
    ) -> Literal["created", "updated"] | None:
        """Add or change the service's own row; None when the stored fingerprint says nothing changed."""
        row = await self._conn.fetchrow(
            "INSERT INTO service (id, organization_id, name, alternate_name, description, url, email, status,"
            " eligibility_description, fees_description, fingerprint, updated_at, translations, network, grades)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15::smallint[])"
            " ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id, name = EXCLUDED.name,"
            " alternate_name = EXCLUDED.alternate_name, description = EXCLUDED.description, url = EXCLUDED.url,"
            " email = EXCLUDED.email, status = EXCLUDED.status,"
            " eligibility_description = EXCLUDED.eligibility_description,"
            " fees_description = EXCLUDED.fees_description, fingerprint = EXCLUDED.fingerprint,"
            " updated_at = EXCLUDED.updated_at, translations = EXCLUDED.translations, network = EXCLUDED.network,"
            " grades = EXCLUDED.grades"
            " WHERE service.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint"
            # xmax is 0 on a freshly inserted row version: PostgreSQL's way to tell an insert from an update here.
            " RETURNING (xmax = 0) AS created",
            service_id,
            organization_id,
            service.name,
            service.alternate_name,
            service.description,
            _text(service.url),
            service.email,
            service.status,
            service.eligibility_description,
            service.fees_description,
            fingerprint,
            now,
            _translations(service.translations),
            service.network,
            sorted(GRADE_NUMBERS[grade] for grade in service.grades) or None,
        )
        if row is None:
            return None
        return "created" if row["created"] else "updated"

    async def replace_service_details(
        self,
        *,
        service_id: str,
        phones: Sequence[PhoneDetails],
        languages: Sequence[str],
        categories: Sequence[ResourceCategory],
        location_ids: Sequence[str],
        contacts: Sequence[ContactDetails] = (),
        schedules: Sequence[ScheduleDetails] = (),
    ) -> None:
        """Make the service's phones, languages, categories, locations, contacts and schedules exactly the ones
        given, in that order."""
        for table in ("phone", "language", "service_taxonomy", "service_at_location", "contact", "schedule"):
            await self._conn.execute(f"DELETE FROM {table} WHERE service_id = $1", service_id)  # noqa: S608 (fixed names)
        await self._conn.executemany(
            "INSERT INTO phone (id, service_id, number, extension, type, description, position)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (f"{service_id}/phone/{i}", service_id, p.number, p.extension, p.type, p.description, i)
                for i, p in enumerate(phones)
            ],
        )
        await self._conn.executemany(
            "INSERT INTO language (service_id, code, name, position) VALUES ($1, $2, $3, $4)",
            [(service_id, code, language_name(code), i) for i, code in enumerate(languages)],
        )
        linked = await self._conn.fetchval(
            "WITH linked AS (INSERT INTO service_taxonomy (service_id, taxonomy_term_id, position)"
            " SELECT $1, t.id, wanted.position FROM unnest($2::text[]) WITH ORDINALITY AS wanted (code, position)"
            " JOIN taxonomy_term t ON t.code = wanted.code AND t.vocabulary = $3 RETURNING 1)"
            " SELECT count(*) FROM linked",
            service_id,
            [category.value for category in categories],
            VOCABULARY,
        )
        if linked != len(categories):
            raise RuntimeError("a category has no taxonomy term: ensure_taxonomy must run before upserts")
        await self._conn.executemany(
            "INSERT INTO service_at_location (service_id, location_id, position) VALUES ($1, $2, $3)",
            [(service_id, location_id, i) for i, location_id in enumerate(location_ids)],
        )
        await self._conn.executemany(
            "INSERT INTO contact (id, service_id, name, title, department, email, phone, translations, position)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)",
            [
                (
                    f"{service_id}/contact/{i}",
                    service_id,
                    c.name,
                    c.title,
                    c.department,
                    c.email,
                    c.phone,
                    _translations(c.translations),
                    i,
                )
                for i, c in enumerate(contacts)
            ],
        )
        await self._conn.executemany(
            "INSERT INTO schedule (id, service_id, location_id, kind, name, description, translations, language,"
            " byday, opens_at, closes_at, dtstart, duration_minutes, rrule, timezone, position)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            [
                (
                    h.id,
                    service_id,
                    h.location_id,
                    h.kind,
                    h.name,
                    h.description,
                    _translations(h.translations),
                    h.language,
                    list(h.byday),
                    h.opens_at,
                    h.closes_at,
                    h.dtstart,
                    h.duration_minutes,
                    h.rrule,
                    h.timezone,
                    i,
                )
                for i, h in enumerate(schedules)
            ],
        )

    async def touch_services(
        self,
        *,
        service_ids: Sequence[str],
        organization_ids: Sequence[str],
        location_ids: Sequence[str],
        now: datetime,
    ) -> list[str]:
        """Rewrite the search document and stamp ``updated_at`` of the services whose view changed: those named, those
        of the organizations named, those at the locations named. Returns their ids.
        """
        if not (service_ids or organization_ids or location_ids):
            return []
        rows = await self._conn.fetch(
            _TOUCH_SERVICES,
            list(service_ids),
            list(organization_ids),
            list(location_ids),
            now,
        )
        return [row["id"] for row in rows]

    async def refresh_search_documents(self, *, taxonomy_term_ids: Sequence[str]) -> None:
        """A renamed taxonomy term changes the search documents filed under it, not what any view shows."""
        if not taxonomy_term_ids:
            return
        await self._conn.execute(
            _REFRESH_SEARCH_DOCUMENTS,
            list(taxonomy_term_ids),
        )


def _translations(translations: Mapping[str, Translation]) -> dict[str, Any]:
    """As the jsonb codec of the pool takes it (a value it encodes itself)."""
    return {code: t.model_dump(mode="json", exclude_none=True) for code, t in translations.items()}


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


_LEXICON_TEXT = """SELECT to_tsvector('simple', public.unaccent('public.unaccent'::regdictionary, concat_ws(' ',
    s.name, s.alternate_name, s.description, s.eligibility_description, s.network,
    s.translations->'es'->>'name', s.translations->'es'->>'description',
    s.translations->'es'->>'eligibility_description', o.name, (
        SELECT string_agg(concat_ws(' ', h.name, h.translations->'es'->>'name'), ' ')
        FROM schedule h WHERE h.service_id = s.id))))
FROM service s JOIN organization o ON o.id = s.organization_id WHERE s.status = 'active'"""

_LOCATION = """json_build_object(
    'id', loc.id, 'organization_id', loc.organization_id, 'name', loc.name, 'kind', loc.kind,
    'school_id', loc.school_id, 'address_1', loc.address_1, 'city', loc.city, 'state_province', loc.state_province,
    'postal_code', loc.postal_code, 'latitude', loc.latitude, 'longitude', loc.longitude, 'phone', loc.phone,
    'network', loc.network, 'grades_offered', loc.grades_offered, 'languages', loc.languages,
    'language_codes', loc.language_codes, 'bilingual_services', loc.bilingual_services,
    'school_category', loc.school_category,
    'service_ids', coalesce((SELECT json_agg(sal.service_id ORDER BY sal.service_id)
        FROM service_at_location sal WHERE sal.location_id = loc.id), '[]'))"""

# Locations: $1 kind, $2 network, $3 grade, $4 language code, $5 bilingual services, $6 limit, $7 offset,
# $9/$10 a point and $11 a radius (km), $8 an organization.
_LIST_LOCATIONS = f"""
WITH hits AS (
    SELECT loc.id, loc.name, CASE WHEN $9::float8 IS NULL OR loc.latitude IS NULL THEN NULL
        ELSE {_HAVERSINE.format(lat="loc.latitude", lon="loc.longitude")} END AS distance
    FROM location loc
    WHERE ($1::text IS NULL OR loc.kind = $1)
      AND ($2::text IS NULL OR loc.network = $2)
      AND ($3::smallint IS NULL OR $3 = ANY (loc.grades))
      AND ($4::text IS NULL OR $4 = ANY (loc.language_codes))
      AND ($5::boolean IS NULL OR loc.bilingual_services = $5)
      AND ($8::text IS NULL OR loc.organization_id = $8)
), near AS (
    SELECT * FROM hits WHERE $9::float8 IS NULL OR distance <= $11
), page AS (
    SELECT * FROM near ORDER BY distance NULLS LAST, name, id LIMIT $6 OFFSET $7
)
SELECT (SELECT count(*) FROM near) AS total, coalesce((
    SELECT json_agg({_LOCATION}::jsonb || jsonb_build_object('distance_km', round(page.distance::numeric, 3))
        ORDER BY page.distance NULLS LAST, page.name, page.id)
    FROM page JOIN location loc ON loc.id = page.id), '[]') AS results
"""  # noqa: S608 (fixed text)

_ORGANIZATION = """json_build_object(
    'id', o.id, 'name', o.name, 'description', o.description, 'email', o.email, 'website', o.website,
    'translations', o.translations,
    'service_ids', coalesce((SELECT json_agg(s.id ORDER BY s.name) FROM service s
        WHERE s.organization_id = o.id AND s.status = 'active'), '[]'),
    'location_count', (SELECT count(*) FROM location loc WHERE loc.organization_id = o.id))"""

_EVENTS = """
SELECT s.id AS service_id, s.name AS service_name, s.translations->'es'->>'name' AS service_name_es,
    json_build_object('id', h.id, 'kind', h.kind, 'name', h.name, 'description', h.description,
        'translations', h.translations, 'language', h.language, 'byday', h.byday, 'opens_at', h.opens_at,
        'closes_at', h.closes_at, 'dtstart', h.dtstart, 'duration_minutes', h.duration_minutes, 'rrule', h.rrule,
        'timezone', h.timezone, 'location_id', h.location_id) AS schedule,
    CASE WHEN loc.id IS NULL THEN NULL ELSE json_build_object(
        'id', loc.id, 'name', loc.name, 'address_1', loc.address_1, 'city', loc.city,
        'state_province', loc.state_province, 'postal_code', loc.postal_code, 'latitude', loc.latitude,
        'longitude', loc.longitude) END AS location
FROM schedule h JOIN service s ON s.id = h.service_id LEFT JOIN location loc ON loc.id = h.location_id
WHERE h.kind = 'event' AND s.status = 'active' AND ($1::text IS NULL OR s.id = $1)
  AND ($2::text IS NULL OR h.language = $2)
ORDER BY s.id, h.position
"""


_SCHOOL_COLUMNS = (
    "id", "name", "address_1", "city", "state_province", "postal_code", "latitude", "longitude", "school_id",
    "network", "grades_offered", "phone", "school_category", "bilingual_services",
)  # fmt: skip
_SCHOOL_CHANGING = (*_SCHOOL_COLUMNS[1:], "grades", "languages", "language_codes")
_UPSERT_SCHOOLS = f"""
WITH input AS (
    SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[],
        $9::float8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::boolean[])
        AS u ({", ".join(_SCHOOL_COLUMNS)})
), extra AS (
    SELECT * FROM jsonb_to_recordset($16::jsonb) AS x (id text, grades smallint[], languages text[],
        language_codes text[])
), written AS (
    INSERT INTO location (organization_id, kind, grades, languages, language_codes, {", ".join(_SCHOOL_COLUMNS)})
    SELECT $1, 'school', extra.grades, extra.languages, extra.language_codes,
        {", ".join(f"input.{c}" for c in _SCHOOL_COLUMNS)}
    FROM input JOIN extra USING (id)
    ON CONFLICT (id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _SCHOOL_CHANGING)}
    WHERE location.organization_id = EXCLUDED.organization_id
      AND ({", ".join(f"location.{c}" for c in _SCHOOL_CHANGING)})
      IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _SCHOOL_CHANGING)})
    RETURNING 1
)
SELECT count(*) FROM written
"""  # noqa: S608 (fixed names)


class DirectoryRepository:
    """The directory beyond one service: the lexicon, the schools, locations, organizations, taxonomy and events."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def refresh_lexicon(self, *, extra_words: Sequence[str]) -> None:
        """Every word of the active services' text and the synonyms file, for typo correction."""
        await self._conn.execute(
            "INSERT INTO search_lexicon (word)"
            " SELECT word FROM ts_stat($1) WHERE length(word) > 2 AND word !~ '^[0-9]+$'"
            " UNION SELECT unnest($2::text[])"
            " ON CONFLICT (word) DO NOTHING",
            _LEXICON_TEXT,
            list(extra_words),
        )

    async def correct_words(self, *, words: Sequence[str]) -> dict[str, str]:
        """For each word the lexicon lacks, the lexicon's most similar word (trigram similarity), if any is close."""
        rows = await self._conn.fetch(
            "SELECT t.word, (SELECT w.word FROM search_lexicon w WHERE w.word OPERATOR(public.%) t.word"
            "   ORDER BY public.similarity(w.word, t.word) DESC, w.word LIMIT 1) AS nearest"
            " FROM unnest($1::text[]) AS t (word)"
            " WHERE length(t.word) > 3 AND NOT EXISTS (SELECT 1 FROM search_lexicon w WHERE w.word = t.word)",
            list(words),
        )
        return {row["word"]: row["nearest"] for row in rows if row["nearest"]}

    async def upsert_schools(self, *, organization_id: str, schools: Sequence[School]) -> int:
        """Add or change the schools as locations of the organization; returns how many rows were written."""
        if not schools:
            return 0
        written = await self._conn.fetchval(
            _UPSERT_SCHOOLS,
            organization_id,
            [s.id for s in schools],
            [s.name for s in schools],
            [s.address_1 for s in schools],
            [s.city for s in schools],
            [s.state_province for s in schools],
            [s.postal_code for s in schools],
            [s.latitude for s in schools],
            [s.longitude for s in schools],
            [s.school_id for s in schools],
            [s.network for s in schools],
            [s.grades_offered for s in schools],
            [s.phone for s in schools],
            [s.category for s in schools],
            [s.bilingual_services for s in schools],
            [
                {"id": s.id, "grades": s.grades, "languages": s.languages, "language_codes": s.language_codes}
                for s in schools
            ],
        )
        return int(written)

    async def school_point(self, *, school_id: str) -> tuple[float, float] | None:
        row = await self._conn.fetchrow(
            "SELECT latitude, longitude FROM location WHERE school_id = $1 AND latitude IS NOT NULL", school_id
        )
        return None if row is None else (row["latitude"], row["longitude"])

    async def list_locations(
        self, *, filters: LocationFilters, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        near = filters.near
        row = await self._conn.fetchrow(
            _LIST_LOCATIONS,
            filters.kind,
            filters.network,
            filters.grade,
            filters.language,
            filters.bilingual_services,
            limit,
            offset,
            filters.organization_id,
            near.latitude if near else None,
            near.longitude if near else None,
            near.radius_km if near else None,
        )
        assert row is not None
        return row["total"], list(row["results"])

    async def get_location(self, *, location_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_LOCATION} AS view FROM location loc WHERE loc.id = $1",  # noqa: S608 (fixed text)
            location_id,
        )
        return None if row is None else dict(row["view"])

    async def list_organizations(self, *, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
        total = await self._conn.fetchval("SELECT count(*) FROM organization")
        rows = await self._conn.fetch(
            f"SELECT {_ORGANIZATION} AS view FROM organization o ORDER BY o.name, o.id LIMIT $1 OFFSET $2",  # noqa: S608
            limit,
            offset,
        )
        return total, [dict(row["view"]) for row in rows]

    async def get_organization(self, *, organization_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ORGANIZATION} AS view FROM organization o WHERE o.id = $1",  # noqa: S608 (fixed text)
            organization_id,
        )
        return None if row is None else dict(row["view"])

    async def list_taxonomy_terms(self) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT t.id, t.code, t.name, t.vocabulary, (SELECT count(*) FROM service_taxonomy st"
            " JOIN service s ON s.id = st.service_id WHERE st.taxonomy_term_id = t.id AND s.status = 'active')"
            " AS service_count FROM taxonomy_term t ORDER BY t.vocabulary, t.code"
        )
        return [dict(row) for row in rows]

    async def event_schedules(self, *, service_id: str | None, language: str | None) -> list[EventSchedule]:
        rows = await self._conn.fetch(_EVENTS, service_id, language)
        return [
            EventSchedule(
                service_id=row["service_id"],
                service_name=row["service_name"],
                service_name_es=row["service_name_es"],
                schedule=ScheduleView.model_validate(row["schedule"]),
                location=None if row["location"] is None else LocationView.model_validate(row["location"]),
            )
            for row in rows
        ]


_REFERRAL = """json_build_object(
    'id', r.id, 'inquiry_id', r.inquiry_id, 'service_id', r.service_id, 'department', s.name,
    'referred_by', r.referred_by, 'network_id', r.network_id, 'reason', r.reason, 'status', r.status,
    'referred_at', r.referred_at, 'reply_due_at', r.reply_due_at, 'answered_at', r.answered_at,
    'answered_by', r.answered_by, 'answer', r.answer)"""


class ReferralRepository:
    """Referrals of inquiries to departments."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def department_name(self, *, service_id: str) -> str | None:
        name = await self._conn.fetchval("SELECT name FROM service WHERE id = $1 AND status = 'active'", service_id)
        return None if name is None else str(name)

    async def add(self, *, referral: NewReferral) -> ReferralView | None:
        """Store it; None when its request key was used before (the caller reads that referral instead)."""
        row = await self._conn.fetchrow(
            "INSERT INTO referral (id, inquiry_id, service_id, referred_by, network_id, reason, status, referred_at,"
            " reply_due_at, request_key, warn_at, reply_business_days)"
            " VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $11)"
            " ON CONFLICT (request_key) DO NOTHING RETURNING id",
            referral.id,
            referral.inquiry_id,
            referral.service_id,
            referral.referred_by,
            referral.network_id,
            referral.reason,
            referral.referred_at,
            referral.reply_due_at,
            referral.request_key,
            referral.warn_at,
            referral.reply_business_days,
        )
        return None if row is None else await self.get(referral_id=referral.id)

    async def by_request_key(self, *, request_key: str) -> ReferralView | None:
        return await self._one("r.request_key = $1", request_key)

    async def get(self, *, referral_id: UUID) -> ReferralView | None:
        return await self._one("r.id = $1", referral_id)

    async def of_inquiry(self, *, inquiry_id: UUID) -> list[ReferralView]:
        rows = await self._conn.fetch(
            f"SELECT {_REFERRAL} AS view FROM referral r JOIN service s ON s.id = r.service_id"  # noqa: S608
            " WHERE r.inquiry_id = $1 ORDER BY r.referred_at, r.id",
            inquiry_id,
        )
        return [ReferralView.model_validate(row["view"]) for row in rows]

    async def answer(self, *, referral_id: UUID, answer: str, answered_by: str, now: datetime) -> bool:
        """Record the answer of an open referral (locked); False when it was answered already."""
        updated = await self._conn.fetchval(
            "UPDATE referral SET status = 'answered', answer = $2, answered_by = $3, answered_at = $4"
            " WHERE id = $1 AND status = 'open' RETURNING true",
            referral_id,
            answer,
            answered_by,
            now,
        )
        return updated is True

    async def claim_due(self, *, now: datetime, limit: int) -> list[DueReferral]:
        """Open referrals whose warning or deadline has come and not fired, locked for this transaction (replicas
        sweeping together skip each other's), and marked as fired."""
        rows = await self._conn.fetch(
            "WITH due AS (SELECT r.id FROM referral r WHERE r.status = 'open' AND r.escalated_at IS NULL"
            "   AND (CASE WHEN r.warned_at IS NULL THEN r.warn_at ELSE r.reply_due_at END) <= $1"
            "   ORDER BY (CASE WHEN r.warned_at IS NULL THEN r.warn_at ELSE r.reply_due_at END), r.id"
            "   LIMIT $2 FOR UPDATE SKIP LOCKED),"
            " before AS (SELECT r.id, r.warned_at IS NULL AND r.warn_at <= $1 AS warn, r.reply_due_at <= $1 AS escalate"
            "   FROM referral r JOIN due USING (id))"
            " UPDATE referral r SET warned_at = coalesce(r.warned_at, $1),"
            "   escalated_at = CASE WHEN before.escalate THEN $1 ELSE r.escalated_at END"
            " FROM before JOIN service s ON true"
            " WHERE r.id = before.id AND s.id = r.service_id"
            " RETURNING r.id, r.inquiry_id, r.service_id, s.name AS department, r.network_id, r.reply_due_at,"
            "   before.warn, before.escalate",
            now,
            limit,
        )
        return [
            DueReferral(
                id=row["id"],
                inquiry_id=row["inquiry_id"],
                service_id=row["service_id"],
                department=row["department"],
                network_id=row["network_id"],
                reply_due_at=row["reply_due_at"],
                warn=row["warn"],
                escalate=row["escalate"],
            )
            for row in rows
        ]

    async def lock_awaiting_reply(self, *, due_from: datetime) -> list[AwaitingReply]:
        """Open referrals not escalated whose due time is ``due_from`` or later, locked for this transaction (a sweep
        or an answer on another replica waits for the new due time)."""
        rows = await self._conn.fetch(
            "SELECT id, referred_at, reply_due_at, reply_business_days FROM referral"
            " WHERE status = 'open' AND escalated_at IS NULL AND reply_due_at >= $1 ORDER BY id FOR UPDATE",
            due_from,
        )
        return [
            AwaitingReply(row["id"], row["referred_at"], row["reply_due_at"], row["reply_business_days"])
            for row in rows
        ]

    async def move_due(self, *, moved: Sequence[MovedDue]) -> None:
        """New due and warning times, in one statement."""
        if not moved:
            return
        await self._conn.execute(
            "UPDATE referral r SET reply_due_at = m.due, warn_at = m.warn"
            " FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS m(id, due, warn) WHERE r.id = m.id",
            [m.id for m in moved],
            [m.reply_due_at for m in moved],
            [m.warn_at for m in moved],
        )

    async def next_due(self) -> datetime | None:
        """When the next warning or deadline of an open referral falls due."""
        found = await self._conn.fetchval(
            "SELECT min(CASE WHEN warned_at IS NULL THEN warn_at ELSE reply_due_at END) FROM referral"
            " WHERE status = 'open' AND escalated_at IS NULL"
        )
        return found if isinstance(found, datetime) else None

    async def _one(self, condition: str, value: object) -> ReferralView | None:
        row = await self._conn.fetchrow(
            f"SELECT {_REFERRAL} AS view FROM referral r JOIN service s ON s.id = r.service_id"  # noqa: S608
            f" WHERE {condition}",
            value,
        )
        return None if row is None else ReferralView.model_validate(row["view"])


class CalendarRepository:
    """The emergency closures routing announced (``calendar.closure_added``)."""

    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def closures(self) -> dict[date, str]:
        rows = await self._conn.fetch("SELECT day, reason FROM calendar_closure")
        return {row["day"]: row["reason"] for row in rows}

    async def add_closure(self, *, day: date, reason: str, now: datetime) -> bool:
        """Keep a closure day; False when it was on file already (a redelivery)."""
        added = await self._conn.fetchval(
            "INSERT INTO calendar_closure (day, reason, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            " RETURNING true",
            day,
            reason,
            now,
        )
        return added is True
