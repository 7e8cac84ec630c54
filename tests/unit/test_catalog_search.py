"""Reading a parent's words: accent folding, phrases, the versioned synonyms file, the tsquery, corrections; and the
search use case's rounds (every word, telling words, corrected words, names)."""

from __future__ import annotations

import pytest
from fakes.catalog import NOW, FakeCatalogUnitOfWork, district_seed

from services.catalog import handlers
from services.catalog.domain import FullText, Fuzzy, ResourceQuery
from services.catalog.querying import (
    SYNONYMS_V1,
    InvalidSynonyms,
    fold,
    parse_query,
    parse_synonyms,
    telling,
    tsquery,
    with_corrections,
)
from services.catalog.settings import SYNONYMS
from shared.contracts.catalog import ResourceCategory

SYNONYMS_FILE = parse_synonyms(SYNONYMS_V1.read_text())


def test_the_settings_point_at_the_versioned_file() -> None:
    assert SYNONYMS == SYNONYMS_V1 and SYNONYMS_FILE.version == 1


def test_accents_case_and_compatibility_characters_are_folded() -> None:
    assert fold("  Educación ESPECIAL\tniño ") == "educacion especial nino"
    assert fold("\uff27\uff4f\uff23\uff30\uff33") == "gocps"


@pytest.mark.parametrize(
    ("q", "means"),
    [
        ("homeless", ("temporary", "living", "situations")),
        ("uniforms", ("stls",)),
        ("IEP", ("special", "education")),
        ("bus", ("transportation",)),
        ("truancy", ("attendance",)),
        ("sin hogar", ("vivienda", "temporal")),
        ("ausencias", ("asistencia",)),
        ("autobús", ("transporte",)),
    ],
)
def test_the_words_parents_use_widen_to_what_the_directory_calls_them(q: str, means: tuple[str, ...]) -> None:
    (clause,) = parse_query(q, SYNONYMS_FILE).clauses
    assert means in clause
    assert clause[0] == tuple(fold(q).split())  # what was typed is looked for too, first


def test_a_synonym_trigger_of_several_words_is_matched_before_its_single_words() -> None:
    (clause,) = parse_query("doubled up", SYNONYMS_FILE).clauses
    assert clause[0] == ("doubled", "up") and ("stls",) in clause


def test_quoted_words_are_a_phrase_and_are_not_widened() -> None:
    parsed = parse_query('"school model exploration" bus', SYNONYMS_FILE)
    assert parsed.clauses[0] == (("school", "model", "exploration"),)
    assert ("transportation",) in parsed.clauses[1]


def test_the_tsquery_has_prefixes_phrases_and_alternatives_and_nothing_else() -> None:
    parsed = parse_query('homeless "parent mentors" & !x:* (', SYNONYMS_FILE)
    text = tsquery(parsed.clauses, require="all")
    assert text.startswith("(homeless:* | (temporary <-> living <-> situations) | stls:*")
    assert text.endswith(" & (parent <-> mentors)")
    assert "!" not in text and "x:*" not in text
    assert tsquery(parsed.clauses, require="any").count(" | (parent <-> mentors)") == 1


def test_function_words_in_english_and_spanish_are_dropped() -> None:
    parsed = parse_query("which school near me offers bilingual services", SYNONYMS_FILE)
    assert [clause[0] for clause in parsed.clauses] == [("school",), ("bilingual",), ("services",)]
    assert parse_query("¿dónde está la oficina de la red?").typed_words == ("esta", "oficina", "red")


def test_common_words_do_not_decide_a_loose_search() -> None:
    parsed = parse_query("help my child with the bus", SYNONYMS_FILE)
    assert [clause[0] for clause in telling(parsed)] == [("bus",)]


def test_corrections_replace_whole_words_only() -> None:
    assert with_corrections("Atendance and the bus", {"atendance": "attendance"}) == "attendance and the bus"
    assert with_corrections("bus", {}) == "bus"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("entries: []", "version"),
        ("version: 1\nentries: []", "non-empty"),
        ("version: 1\nentries:\n  - words: [bus]", "entries.0"),
        ("version: 1\nentries:\n  - words: ['!!']\n    means: [transportation]", "entries.0.words.0"),
    ],
)
def test_a_bad_synonyms_file_is_refused_naming_the_entry(text: str, reason: str) -> None:
    with pytest.raises(InvalidSynonyms, match=reason):
        parse_synonyms(text)


async def test_a_misspelt_word_is_corrected_before_names_are_matched_fuzzily() -> None:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=NOW, synonyms=SYNONYMS_FILE)
    uow.directory.lexicon.update({"attendance", "transportation"})
    uow.resources.services.clear()  # nothing found: every round runs
    await handlers.find_resources(uow, ResourceQuery(q="atendance"), SYNONYMS_FILE)
    assert uow.resources.searches == [
        FullText("atendance:*", "atendance"),
        FullText("attendance:*", "attendance"),
        Fuzzy("atendance"),
    ]


async def test_the_first_round_that_finds_something_answers() -> None:
    uow = FakeCatalogUnitOfWork()
    await handlers.prepare_directory(uow, district_seed(), now=NOW, synonyms=SYNONYMS_FILE)
    page = await handlers.find_resources(
        uow, ResourceQuery(q="bus", category=ResourceCategory("transportation")), SYNONYMS_FILE
    )
    assert page.total and len(uow.resources.searches) == 1
    assert all("transportation" in view.categories for view in page.results)
