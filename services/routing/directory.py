"""The district's directory as routing reads it: network offices, the schools each serves, and the school list's rows
(a bad row is reported with its line, field and reason)."""

from __future__ import annotations

import re
from dataclasses import dataclass

CENTRAL_ID = "central"
CENTRAL_NAME = "Parent Support Center"


@dataclass(frozen=True)
class Network:
    id: str
    name: str


@dataclass(frozen=True)
class School:
    id: int
    short_name: str
    long_name: str
    network: Network | None


@dataclass(frozen=True)
class NetworkSummary:
    """A network office (or the central queue) and how many schools in the directory it serves."""

    id: str
    name: str
    kind: str
    schools: int


@dataclass(frozen=True)
class RowProblem:
    line: int
    field: str
    reason: str


def schools_from_rows(rows: list[dict[str, str]]) -> tuple[list[School], list[RowProblem]]:
    """Schools from the district's school list; a bad row is reported (line, field, reason) and left out."""
    schools: list[School] = []
    problems: list[RowProblem] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        raw_id = (row.get("school_id") or "").strip()
        if not raw_id.isdigit() or not 100000 <= int(raw_id) <= 999999:
            problems.append(RowProblem(line, "school_id", "is not a six-digit school id"))
            continue
        name = (row.get("long_name") or row.get("short_name") or "").strip()
        if not name:
            problems.append(RowProblem(line, "long_name", "is empty"))
            continue
        schools.append(
            School(
                id=int(raw_id),
                short_name=(row.get("short_name") or name).strip(),
                long_name=name,
                network=network_for_label(row.get("network") or ""),
            )
        )
    return schools, problems


def network_for_label(label: str) -> Network | None:
    """The school list names networks as 'Network 4', 'Charter', 'ISP', ...; an empty label means none."""
    name = label.strip()
    if not name:
        return None
    return Network(id=re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"), name=name)
