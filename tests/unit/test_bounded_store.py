"""The bounded store behind the mail catcher and the SMS sink: newest first, oldest dropped past capacity."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from devstack.bounded_store import BoundedStore


@dataclass(frozen=True)
class Note:
    id: str
    text: str = ""


def store(capacity: int) -> BoundedStore[Note]:
    return BoundedStore(lambda note: note.id, capacity)


def ids(notes: Iterable[Note]) -> list[str]:
    return [note.id for note in notes]


def test_keeps_the_newest_capacity_items_and_drops_the_oldest_first() -> None:
    notes = store(3)
    for number in range(5):
        notes.add(Note(str(number)))

    assert len(notes) == 3
    assert ids(notes.newest()) == ["4", "3", "2"]
    assert notes.get("1") is None
    assert notes.get("2") == Note("2")


def test_newest_pages_from_start_and_stops_at_limit() -> None:
    notes = store(10)
    for number in range(6):
        notes.add(Note(str(number)))

    assert ids(notes.newest(start=1, limit=2)) == ["4", "3"]
    assert ids(notes.newest(start=4)) == ["1", "0"]
    assert ids(notes.newest(start=9, limit=5)) == []


def test_adding_an_item_again_replaces_it_in_place() -> None:
    notes = store(3)
    notes.add(Note("a", "first"))
    notes.add(Note("b"))
    notes.add(Note("a", "second"))

    assert len(notes) == 2
    assert notes.get("a") == Note("a", "second")


def test_delete_and_clear_say_how_many_they_removed() -> None:
    notes = store(5)
    for name in "abc":
        notes.add(Note(name))

    assert notes.delete(["a", "missing", "c"]) == 2
    assert ids(notes.newest()) == ["b"]
    assert notes.clear() == 1
    assert len(notes) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        store(0)
