"""The catalog's pure rules: reading and planning a search, upsert rules, the seed file, the events it emits."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fakes.catalog import NOW, district_seed, pep_upsert

from services.catalog import domain
from services.catalog.domain import (
    Everything,
    FullText,
    Fuzzy,
    InvalidSeed,
    ResourcePage,
    SeedCatalog,
    search_plan,
)
from services.catalog.querying import MAX_CLAUSES, parse_query
from shared.contracts.catalog import LookupResources, ResourceCategory, ResourceView
from shared.contracts.envelope import FieldError


def fields_of(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


# --- Reading a query ----------------------------------------------------------------------------------------------


def test_a_query_is_read_in_lower_case_with_single_spaces() -> None:
    assert domain.normalise_query("  IEP\t  Workshop \n") == "iep workshop"


def test_full_width_characters_typed_on_an_asian_keyboard_read_as_plain_letters() -> None:
    full_width_gocps = "\uff27\uff4f\uff23\uff30\uff33"
    assert domain.normalise_query(full_width_gocps) == "gocps"


def test_a_blank_query_is_no_query() -> None:
    assert domain.normalise_query("   ") is None
    assert domain.normalise_query(None) is None


def words(q: str) -> list[str]:
    """The plain words a query searches for (no synonyms file)."""
    return [word for clause in parse_query(q).clauses for alternative in clause for word in alternative]


def test_punctuation_separates_words_and_never_reaches_the_tsquery() -> None:
    assert words("attendance&(truancy) | !x:* 'bus'") == ["attendance", "truancy", "bus"]


def test_single_letters_and_function_words_are_dropped_but_single_digits_are_kept() -> None:
    assert words("a parent's question about grade 8") == ["parent", "question", "grade", "8"]


def test_a_word_typed_twice_is_searched_once() -> None:
    assert words("bus bus stop") == ["bus", "stop"]


def test_a_long_query_is_cut_to_its_first_clauses() -> None:
    typed = [f"word{i}" for i in range(30)]
    assert words(" ".join(typed)) == typed[:MAX_CLAUSES]


def test_words_in_other_scripts_are_words_too_and_accents_are_folded() -> None:
    assert words("Inscripción 入学") == ["inscripcion", "入学"]


# --- Planning a search --------------------------------------------------------------------------------------------


def test_a_partial_word_still_finds_attendance_services() -> None:
    assert search_plan("attend")[0] == FullText("attend:*", "attend")


def test_every_word_is_required_first_then_any_telling_word_then_a_fuzzy_match_on_names() -> None:
    assert search_plan("IEP workshop") == [
        FullText("iep:* & workshop:*", "iep workshop"),
        FullText("iep:* | workshop:*", "iep workshop"),
        Fuzzy("iep workshop"),
    ]


def test_a_typo_still_gets_a_fuzzy_match_on_names() -> None:
    assert search_plan("atendance") == [FullText("atendance:*", "atendance"), Fuzzy("atendance")]


def test_no_words_lists_every_active_service() -> None:
    assert search_plan(None) == [Everything()]
    assert search_plan("  ") == [Everything()]


def test_only_punctuation_can_only_be_matched_fuzzily() -> None:
    assert search_plan("?!") == [Fuzzy("?!")]


def test_words_every_resource_shares_do_not_decide_a_loose_search() -> None:
    assert search_plan("help with the bus") == [
        FullText("help:* & bus:*", "help with the bus"),
        FullText("bus:*", "help with the bus"),
        Fuzzy("help with the bus"),
    ]


def test_a_query_of_common_words_only_has_no_loose_step() -> None:
    assert search_plan("school help") == [FullText("school:* & help:*", "school help"), Fuzzy("school help")]


def test_a_lookup_becomes_the_same_query_as_the_http_search() -> None:
    request = LookupResources(
        request_id=uuid4(), correlation_id="c-1", q="  IEP  ", category="special_education", language="ES", limit=5
    )
    query = domain.query_of_lookup(request)
    assert query == domain.ResourceQuery(
        q="iep", category=ResourceCategory("special_education"), language="es", limit=5, offset=0
    )


def test_the_same_search_asked_twice_has_one_key() -> None:
    first = domain.ResourceQuery(q="bus", limit=5)
    assert domain.query_key(first) == domain.query_key(domain.ResourceQuery(q="bus", limit=5))
    assert domain.query_key(first) != domain.query_key(domain.ResourceQuery(q="bus", limit=6))


# --- Taxonomy -----------------------------------------------------------------------------------------------------


def test_every_category_has_a_named_taxonomy_term_with_a_stable_id() -> None:
    terms = domain.taxonomy_terms()
    assert {term.code for term in terms} == {category.value for category in ResourceCategory}
    assert all(term.name and term.vocabulary == "psc-category" for term in terms)
    assert domain.taxonomy_terms() == terms


def test_a_known_language_code_has_its_english_name() -> None:
    assert domain.language_name("ur") == "Urdu"
    assert domain.language_name("xx") is None


# --- Upsert rules -------------------------------------------------------------------------------------------------


def test_a_complete_upsert_has_no_problems() -> None:
    assert domain.upsert_problems(pep_upsert()) == []


def test_an_active_service_families_cannot_reach_is_refused() -> None:
    problems = domain.upsert_problems(pep_upsert(phones=[], locations=[]))
    assert fields_of(problems) == ["service"]


def test_an_inactive_service_needs_no_way_to_reach_it() -> None:
    upsert = pep_upsert(
        phones=[], locations=[], service={"name": "Old program", "description": "Closed.", "status": "inactive"}
    )
    assert domain.upsert_problems(upsert) == []


def test_a_web_page_alone_is_a_way_to_reach_a_service() -> None:
    upsert = pep_upsert(
        phones=[], locations=[], service={"name": "GoCPS", "description": "Apply.", "url": "https://go.cps.edu"}
    )
    assert domain.upsert_problems(upsert) == []


def test_a_category_listed_twice_is_refused_at_its_second_place() -> None:
    problems = domain.upsert_problems(pep_upsert(categories=["special_education", "attendance", "special_education"]))
    assert fields_of(problems) == ["categories.2"]


def test_a_language_listed_twice_in_any_case_is_refused() -> None:
    assert fields_of(domain.upsert_problems(pep_upsert(languages=["en", "ES", "es"]))) == ["languages.2"]


def test_two_locations_with_one_id_are_refused() -> None:
    location = pep_upsert().locations[0].model_dump()
    problems = domain.upsert_problems(pep_upsert(locations=[location, {**location, "name": "Other"}]))
    assert fields_of(problems) == ["locations.1.id"]


def test_one_number_written_two_ways_is_one_number() -> None:
    problems = domain.upsert_problems(pep_upsert(phones=[{"number": "(773) 553-1800"}, {"number": "773.553.1800"}]))
    assert fields_of(problems) == ["phones.1.number"]


def test_a_latitude_without_a_longitude_is_refused() -> None:
    location = {**pep_upsert().locations[0].model_dump(), "latitude": 41.88}
    assert fields_of(domain.upsert_problems(pep_upsert(locations=[location]))) == ["locations.0"]


def test_a_location_of_another_organization_cannot_be_taken_over() -> None:
    conflicts = domain.location_conflicts(pep_upsert(), {"odlss-125-s-clark": "cps-face"})
    assert fields_of(conflicts) == ["locations.0.id"]


def test_a_new_location_or_one_of_the_same_organization_is_no_conflict() -> None:
    assert domain.location_conflicts(pep_upsert(), {}) == []
    assert domain.location_conflicts(pep_upsert(), {"odlss-125-s-clark": "cps-odlss"}) == []


def test_the_same_upsert_twice_has_the_same_fingerprint() -> None:
    assert domain.fingerprint(pep_upsert()) == domain.fingerprint(pep_upsert())


def test_a_new_phone_number_changes_the_fingerprint() -> None:
    assert domain.fingerprint(pep_upsert()) != domain.fingerprint(pep_upsert(phones=[{"number": "(773) 553-1000"}]))


def test_the_organizations_details_are_not_the_services_but_its_id_is() -> None:
    renamed = pep_upsert(organization={"id": "cps-odlss", "name": "ODLSS"})
    moved = pep_upsert(organization={"id": "cps-face", "name": "FACE"})
    assert domain.fingerprint(renamed) == domain.fingerprint(pep_upsert())
    assert domain.fingerprint(moved) != domain.fingerprint(pep_upsert())


# --- The seed file ------------------------------------------------------------------------------------------------


def test_the_district_seed_file_keeps_every_rule() -> None:
    upserts = dict(domain.seed_upserts(district_seed()))
    pep = upserts["parent-educator-partnership"]
    assert pep.phones[0].number == "(773) 553-1800"
    assert pep.locations[0].address_1 == "125 South Clark Street, 8th Floor"
    assert ResourceCategory("special_education") in pep.categories


def test_the_district_seed_has_several_attendance_services_and_gocps_help() -> None:
    upserts = dict(domain.seed_upserts(district_seed()))
    attendance = [sid for sid, upsert in upserts.items() if ResourceCategory("attendance") in upsert.categories]
    assert len(attendance) >= 3
    assert "students-in-temporary-living-situations" in attendance
    assert str(upserts["gocps-enrollment-help"].service.url) == "https://go.cps.edu/"


def test_the_district_seed_links_only_to_district_web_sites() -> None:
    upserts = domain.seed_upserts(district_seed())
    urls = {str(upsert.service.url) for _, upsert in upserts} | {str(u.organization.website) for _, u in upserts}
    assert urls <= {"https://www.cps.edu/", "https://go.cps.edu/", "None"}


def test_a_seed_service_of_an_unknown_organization_is_refused() -> None:
    seed = district_seed().model_dump()
    seed["services"][0]["organization_id"] = "cps-nowhere"
    with pytest.raises(InvalidSeed) as refused:
        domain.seed_upserts(SeedCatalog.model_validate(seed))
    assert fields_of(refused.value.errors) == ["services.0.organization_id"]


def test_a_seed_service_at_another_organizations_location_is_refused() -> None:
    seed = district_seed().model_dump()
    seed["services"][0]["location_ids"] = ["odlss-125-s-clark"]
    with pytest.raises(InvalidSeed) as refused:
        domain.seed_upserts(SeedCatalog.model_validate(seed))
    assert fields_of(refused.value.errors) == ["services.0.location_ids.0"]


def test_a_seed_service_id_used_twice_is_refused() -> None:
    seed = district_seed().model_dump()
    seed["services"].append(seed["services"][0])
    with pytest.raises(InvalidSeed) as refused:
        domain.seed_upserts(SeedCatalog.model_validate(seed))
    assert f"services.{len(seed['services']) - 1}.id" in fields_of(refused.value.errors)


# --- Events -------------------------------------------------------------------------------------------------------


def pep_view() -> ResourceView:
    return ResourceView(
        id="parent-educator-partnership",
        name="Parent and Educator Partnership (PEP)",
        alternate_name=None,
        description="Workshops.",
        status="active",
        organization={"id": "cps-odlss", "name": "ODLSS"},
        categories=["special_education"],
        languages=["en"],
        phones=[{"number": "(773) 553-1800", "extension": None, "type": "voice", "description": None}],
        locations=[],
        url=None,
        email=None,
        eligibility_description=None,
        fees_description=None,
        updated_at=NOW,
    )


def test_a_lookup_reply_carries_the_requests_ids_and_is_keyed_by_its_correlation_id() -> None:
    request = LookupResources(request_id=uuid4(), correlation_id="staff-desk-7", q="iep")
    reply = domain.lookup_replied(request, ResourcePage(total=1, results=[pep_view()]), now=NOW)
    assert (reply.request_id, reply.correlation_id, reply.total) == (request.request_id, "staff-desk-7", 1)
    assert reply.partition_key() == "staff-desk-7"
    assert reply.event_type == "catalog.lookup_replied"


def test_a_resource_update_is_keyed_by_the_service() -> None:
    event = domain.resource_updated(pep_view(), created=True, correlation_id="c-9", now=NOW)
    assert event.partition_key() == "parent-educator-partnership"
    assert event.resource.phones[0].number == "(773) 553-1800"
