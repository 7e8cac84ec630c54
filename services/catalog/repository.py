"""All of the catalog's SQL: ``ResourceRepository`` on a unit of work's connection (``uow.resources``), its methods
taking keyword-only arguments and returning the domain's types.

A resource's view (service, organization, categories, languages, phones, locations) is built by PostgreSQL as JSON in
the same statement that finds the services, so a page of results is one query whatever its length.
pg_trgm lives in schema public (see the migration), hence ``public.`` before its functions and operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from asyncpg.pool import PoolConnectionProxy

from services.catalog.domain import (
    VOCABULARY,
    Everything,
    FullText,
    Fuzzy,
    Match,
    ResourcePage,
    TaxonomyTerm,
    language_name,
)
from shared.contracts.catalog import (
    LocationDetails,
    OrganizationDetails,
    PhoneDetails,
    ResourceCategory,
    ResourceView,
    ServiceDetails,
)

_VIEW = """json_build_object(
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
            'name', loc.name, 'address_1', loc.address_1, 'city', loc.city,
            'state_province', loc.state_province, 'postal_code', loc.postal_code)
            ORDER BY sal.position)
        FROM service_at_location sal JOIN location loc ON loc.id = sal.location_id
        WHERE sal.service_id = s.id), '[]'),
    'url', s.url,
    'email', s.email,
    'eligibility_description', s.eligibility_description,
    'fees_description', s.fees_description,
    'updated_at', s.updated_at
)"""

# The search document; the weights rank a hit in a name above one in a description.
_SEARCH_VECTOR = """
    setweight(to_tsvector('english', s.name), 'A')
    || setweight(to_tsvector('english', concat_ws(' ', o.name, s.alternate_name, (
        SELECT string_agg(t.name, ' ')
        FROM service_taxonomy st JOIN taxonomy_term t ON t.id = st.taxonomy_term_id
        WHERE st.service_id = s.id))), 'B')
    || setweight(to_tsvector('english', concat_ws(' ', s.description, s.eligibility_description)), 'C')
"""

# One statement per way of matching, below; everything a caller gives is a parameter ($5: the match's text).
_SEARCH = f"""
WITH hits AS (
    SELECT s.id, s.name, {{rank}} AS rank
    FROM service s
    WHERE s.status = 'active'
      AND {{condition}}
      AND ($1::text IS NULL OR EXISTS (
          SELECT 1 FROM service_taxonomy st JOIN taxonomy_term t ON t.id = st.taxonomy_term_id
          WHERE st.service_id = s.id AND t.code = $1))
      AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM language lang WHERE lang.service_id = s.id AND lang.code = $2))
), page AS (
    SELECT id, name, rank FROM hits ORDER BY rank DESC, name, id LIMIT $3 OFFSET $4
)
SELECT
    (SELECT count(*) FROM hits) AS total,
    coalesce((
        SELECT json_agg({_VIEW} ORDER BY page.rank DESC, page.name, page.id)
        FROM page JOIN service s ON s.id = page.id JOIN organization o ON o.id = s.organization_id
    ), '[]') AS results
"""  # noqa: S608 (fixed text)

_SEARCHES: dict[type[Match], str] = {
    FullText: _SEARCH.format(
        condition="s.search_vector @@ to_tsquery('english', $5)",
        rank="ts_rank(s.search_vector, to_tsquery('english', $5))",
    ),
    Fuzzy: _SEARCH.format(condition="$5 OPERATOR(public.<%) s.name", rank="public.word_similarity($5, s.name)"),
    Everything: _SEARCH.format(condition="true", rank="0::real"),
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

    async def search_services(
        self,
        *,
        match: Match,
        category: ResourceCategory | None,
        language: str | None,
        limit: int,
        offset: int,
    ) -> ResourcePage:
        """One page of active services that match, best first, with the total count: one statement."""
        args: list[object] = [category.value if category else None, language, limit, offset]
        if isinstance(match, FullText):
            args.append(match.tsquery)
        elif isinstance(match, Fuzzy):
            args.append(match.text)
        row = await self._conn.fetchrow(_SEARCHES[type(match)], *args)
        assert row is not None
        return ResourcePage(total=row["total"], results=[ResourceView.model_validate(item) for item in row["results"]])

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
            "INSERT INTO organization (id, name, description, email, website) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
            " email = EXCLUDED.email, website = EXCLUDED.website"
            " WHERE (organization.name, organization.description, organization.email, organization.website)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.email, EXCLUDED.website)"
            " RETURNING true",
            organization.id,
            organization.name,
            organization.description,
            organization.email,
            _text(organization.website),
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
            " eligibility_description, fees_description, fingerprint, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (id) DO UPDATE SET organization_id = EXCLUDED.organization_id, name = EXCLUDED.name,"
            " alternate_name = EXCLUDED.alternate_name, description = EXCLUDED.description, url = EXCLUDED.url,"
            " email = EXCLUDED.email, status = EXCLUDED.status,"
            " eligibility_description = EXCLUDED.eligibility_description,"
            " fees_description = EXCLUDED.fees_description, fingerprint = EXCLUDED.fingerprint,"
            " updated_at = EXCLUDED.updated_at"
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
    ) -> None:
        """Make the service's phones, languages, categories and locations exactly the ones given, in that order."""
        for table in ("phone", "language", "service_taxonomy", "service_at_location"):
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


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)
