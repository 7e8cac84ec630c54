"""How a parent's words become a search, pure and synchronous: accents folded, quoted phrases kept together, function
words dropped, the words parents use widened to what the directory calls things (the versioned synonyms file), and
the result written as a PostgreSQL tsquery that both search configurations (``psc_english``, ``psc_spanish``) read.

A query is a list of clauses; a clause is a list of alternatives (any one matches); an alternative is a tuple of words:
one word matches as a prefix ('attend' finds 'attendance'), several match as a phrase (word after word).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

SYNONYMS_V1 = Path(__file__).parent / "search" / "synonyms.v1.yaml"

MAX_CLAUSES = 12
_TOKEN = re.compile(r'"([^"]*)"|([^\W_]+)')
_WORD = re.compile(r"[^\W_]+")

Alternative = tuple[str, ...]
Clause = tuple[Alternative, ...]

# Words that say nothing about what a parent looks for, in English and Spanish: dropped before searching. (Short ones
# would also match half the directory as a prefix: 'de' finds 'department'.)
FUNCTION_WORDS = frozenset(
    {
        "a", "an", "the", "of", "for", "to", "in", "on", "at", "by", "with", "and", "or", "my", "me", "i", "is", "are",
        "be", "do", "does", "can", "how", "what", "which", "who", "where", "when", "near", "about", "there", "that",
        "this", "it", "our", "we", "you", "your", "any", "some", "offers", "offer", "find",
        "de", "del", "la", "las", "el", "los", "lo", "un", "una", "unos", "unas", "y", "o", "en", "con", "para",
        "por", "al", "mi", "mis", "su", "sus", "que", "como", "donde", "cual", "cuales", "es", "son", "hay", "cerca",
        "se", "le", "les", "ofrece", "ofrecen", "busco",
    }
)  # fmt: skip

# Words nearly every resource shares: in a search for any telling word they would decide the ranking ("help with the
# bus" under "GoCPS Enrollment Help"), so that search leaves them out.
TOO_COMMON_TO_DECIDE = frozenset(
    {
        "help", "need", "needs", "question", "questions", "information", "info", "want", "get", "please", "problem",
        "child", "children", "kid", "kids", "son", "daughter", "student", "students", "school", "schools",
        "parent", "parents", "family", "families", "cps", "chicago", "public", "services", "service", "office",
        "ayuda", "necesito", "necesita", "pregunta", "preguntas", "informacion", "quiero", "problema", "hijo", "hija",
        "hijos", "hijas", "nino", "nina", "ninos", "ninas", "estudiante", "estudiantes", "escuela", "escuelas",
        "padre", "madre", "padres", "familia", "familias", "servicios", "servicio", "oficina",
    }
)  # fmt: skip


def fold(text: str) -> str:
    """Lower case, compatibility characters unified, accents dropped ('Educación' → 'educacion', 'niño' → 'nino'),
    single spaces: the form queries, synonyms and the lexicon are compared in (the database folds with unaccent).
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def words_of(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class SynonymEntry:
    words: tuple[Alternative, ...]
    means: tuple[Alternative, ...]


@dataclass(frozen=True)
class Synonyms:
    """The synonyms file, read: by trigger (a tuple of folded words) the alternatives it widens to."""

    version: int
    entries: tuple[SynonymEntry, ...]
    by_trigger: Mapping[Alternative, tuple[Alternative, ...]] = field(default_factory=dict)
    longest_trigger: int = 1
    """How many words the longest trigger has: the most a query's run of words is compared over."""

    def vocabulary(self) -> set[str]:
        """Every word of the file: the lexicon holds them, so a typo in 'homless' is corrected to a trigger."""
        return {word for entry in self.entries for phrase in (*entry.words, *entry.means) for word in phrase}


class InvalidSynonyms(ValueError):
    pass


def parse_synonyms(text: str) -> Synonyms:
    """Read a synonyms file (YAML: ``version``, ``entries`` of ``words`` and ``means``); raise InvalidSynonyms naming
    the entry at fault."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("version"), int):
        raise InvalidSynonyms("a synonyms file needs an integer 'version' and a list of 'entries'")
    raw_entries = document.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise InvalidSynonyms("'entries' must be a non-empty list")
    entries: list[SynonymEntry] = []
    by_trigger: dict[Alternative, list[Alternative]] = {}
    for i, raw in enumerate(raw_entries):
        if not isinstance(raw, dict) or not raw.get("words") or not raw.get("means"):
            raise InvalidSynonyms(f"entries.{i}: needs 'words' and 'means', each a non-empty list")
        words = tuple(_phrases(raw["words"], f"entries.{i}.words"))
        means = tuple(_phrases(raw["means"], f"entries.{i}.means"))
        entries.append(SynonymEntry(words=words, means=means))
        for trigger in words:
            widened = by_trigger.setdefault(trigger, [])
            for phrase in (trigger, *means):
                if phrase not in widened:
                    widened.append(phrase)
    return Synonyms(
        version=document["version"],
        entries=tuple(entries),
        by_trigger={trigger: tuple(alternatives) for trigger, alternatives in by_trigger.items()},
        longest_trigger=max(len(trigger) for trigger in by_trigger),
    )


def _phrases(values: object, where: str) -> Iterable[Alternative]:
    if not isinstance(values, list):
        raise InvalidSynonyms(f"{where}: must be a list")
    for j, value in enumerate(values):
        phrase = tuple(words_of(str(value)))
        if not phrase:
            raise InvalidSynonyms(f"{where}.{j}: has no word")
        yield phrase


NO_SYNONYMS = Synonyms(version=0, entries=())


@dataclass(frozen=True)
class ParsedQuery:
    """A query read: its clauses (each an AND-ed part), and the plain words typed (the ones a typo may be in)."""

    clauses: tuple[Clause, ...]
    typed_words: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.clauses


def parse_query(q: str, synonyms: Synonyms = NO_SYNONYMS) -> ParsedQuery:
    """Read what was typed: "quoted words" are a phrase; other words, function words dropped, are each a clause,
    except a run of them that is a synonym's trigger, which becomes one clause of the trigger or what it means.
    """
    clauses: list[Clause] = []
    loose: list[str] = []
    typed: list[str] = []

    def flush() -> None:
        clauses.extend(_widen(loose, synonyms))
        loose.clear()

    for match in _TOKEN.finditer(fold(q)):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            flush()
            phrase_words = tuple(words_of(phrase))
            if phrase_words:
                clauses.append((phrase_words,))
        elif word not in FUNCTION_WORDS and (len(word) > 1 or word.isdigit()):
            loose.append(word)
            typed.append(word)
    flush()
    unique: list[Clause] = []
    for clause in clauses:
        if clause not in unique:
            unique.append(clause)
    return ParsedQuery(clauses=tuple(unique[:MAX_CLAUSES]), typed_words=tuple(dict.fromkeys(typed)))


def _widen(words: Sequence[str], synonyms: Synonyms) -> list[Clause]:
    """The words as clauses, the longest synonym trigger at each place first."""
    clauses: list[Clause] = []
    i = 0
    longest = synonyms.longest_trigger
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            trigger = tuple(words[i : i + size])
            widened = synonyms.by_trigger.get(trigger)
            if widened:
                clauses.append(widened)
                i += size
                break
        else:
            clauses.append(((words[i],),))
            i += 1
    return clauses


def telling(parsed: ParsedQuery) -> tuple[Clause, ...]:
    """The clauses that decide something: a single common word ('school', 'help') alone does not."""
    return tuple(clause for clause in parsed.clauses if not (len(clause) == 1 and clause[0] in _COMMON_ALTERNATIVES))


_COMMON_ALTERNATIVES = frozenset((word,) for word in TOO_COMMON_TO_DECIDE)


def tsquery(clauses: Sequence[Clause], *, require: Literal["all", "any"]) -> str:
    """The clauses as tsquery text: a word as a prefix ('attend:*'), a phrase with '<->', alternatives with '|',
    clauses with '&' (all) or '|' (any). Only letters and digits reach it, so no one can inject an operator.
    """
    parts = []
    for clause in clauses:
        alternatives = [f"{alt[0]}:*" if len(alt) == 1 else "(" + " <-> ".join(alt) + ")" for alt in clause]
        parts.append(alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")")
    return (" & " if require == "all" else " | ").join(parts)


def with_corrections(q: str, corrections: Mapping[str, str]) -> str:
    """The query with each misspelt word replaced by the directory's word nearest to it."""
    if not corrections:
        return q
    return _WORD.sub(lambda m: corrections.get(m.group(0), m.group(0)), fold(q))
