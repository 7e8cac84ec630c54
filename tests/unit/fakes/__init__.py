"""In-memory stand-ins for each service's unit of work, so use cases are tested in milliseconds.

A fake keeps what a repository would keep in plain dicts and records what the use case emitted; it implements the
same Protocol as the PostgreSQL unit of work (``services/<name>/unit_of_work.py``). The integration tests prove the
real repositories behave the same.
"""

from __future__ import annotations

from shared.contracts.envelope import Event


class FakeOutbox:
    """``emit`` as a unit of work does it, but kept in a list: ``emitted`` holds (topic, event) in order."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Event]] = []

    def emit(self, topic: str, event: Event) -> None:
        self.emitted.append((topic, event))

    def events_on(self, topic: str) -> list[Event]:
        return [event for emitted_topic, event in self.emitted if emitted_topic == topic]
