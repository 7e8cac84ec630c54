"""The files routing reads refuse mistakes with the file, the line and the reason (the service then does not start,
or ``psc load-schools`` loads nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.routing.files import (
    DEMO_STAFF,
    SLA_POLICIES,
    FileProblem,
    read_policies,
    read_staff,
    schools_or_problems,
)
from shared.business_calendar import read_district_days

DAY = 9 * 3600


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_policy_file_in_the_repository_covers_every_category_urgency_and_tier() -> None:
    policies = read_policies(SLA_POLICIES, business_day_seconds=DAY)
    assert policies.warning_at == 0.75 and len(policies.targets) == 8 * 2 * 3
    assert policies.targets_for("safety_and_bullying", "urgent", "network").first_response == 30 * 60
    assert policies.targets_for("attendance", "normal", "network").resolution == 3 * DAY


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("resolution: 3d}", "resolution: 3 days}"), 15, "is not a duration"),
        (("warning_at: 0.75", "warning_at: 1.5"), 11, "between 0 and 1"),
        (("  safety_and_bullying:", "  safety_and_bulying:"), 24, "unknown category 'safety_and_bulying'"),
        (
            ("network: {first_response: 1h, resolution: 4h}", "network: {first_response: 5h, resolution: 4h}"),
            19,
            "longer",
        ),
        (("    psa:     {first_response: 4h, resolution: 2d}\n", ""), 15, "has no 'psa'"),
        (('version: "2026.1"', "version: [2026"), 11, "not valid YAML"),
    ],
)
def test_a_malformed_policy_file_names_the_file_the_line_and_the_reason(
    tmp_path: Path, change: tuple[str, str], line: int, reason: str
) -> None:
    text = SLA_POLICIES.read_text()
    assert change[0] in text
    path = write(tmp_path, "sla.yaml", text.replace(change[0], change[1], 1))
    with pytest.raises(FileProblem) as problem:
        read_policies(path, business_day_seconds=DAY)
    assert problem.value.path == str(path) and reason in problem.value.reason
    assert problem.value.line == line, str(problem.value)


def test_the_district_calendar_file_and_its_mistakes(tmp_path: Path) -> None:
    good = write(
        tmp_path, "good.yaml", "school_year: x\nclosed:\n  - {from: 2026-12-21, to: 2026-12-23, name: Break}\n"
    )
    assert len(read_district_days(good)) == 3
    bad = write(
        tmp_path,
        "bad.yaml",
        "school_year: x\nclosed:\n  - {date: 2026-12-21, name: A}\n  - {date: 2026-13-01, name: B}\n",
    )
    with pytest.raises(FileProblem, match=r"bad.yaml:4: date '2026-13-01' is not a date"):
        read_district_days(bad)
    backwards = write(
        tmp_path, "back.yaml", "school_year: x\nclosed:\n  - {from: 2026-12-21, to: 2026-12-01, name: A}\n"
    )
    with pytest.raises(FileProblem, match="before 'from'"):
        read_district_days(backwards)


def test_the_demo_staff_has_a_psa_and_two_staff_per_network_and_a_bad_role_is_named(tmp_path: Path) -> None:
    staff = read_staff(DEMO_STAFF)
    networks = {m.network_id for m in staff if m.role == "psa"}
    assert len(networks) == 22
    assert all(sum(1 for m in staff if m.network_id == n and m.role == "network_staff") == 2 for n in networks)
    bad = write(
        tmp_path,
        "staff.yaml",
        "staff:\n  - {id: a, name: A, role: psa, network: network-1}\n"
        "  - {id: b, name: B, role: boss, network: network-1}\n",
    )
    with pytest.raises(FileProblem, match=r"staff.yaml:3: role 'boss'"):
        read_staff(bad)


def test_staff_have_work_emails_and_an_auditor_serves_any_network(tmp_path: Path) -> None:
    demo = read_staff(DEMO_STAFF)
    assert all(m.email and m.email.endswith("@psc.example.org") for m in demo)
    assert len({m.email for m in demo}) == len(demo)
    assert [m.id for m in demo if m.role == "auditor"] == ["central-auditor-1"]
    good = write(
        tmp_path,
        "staff.yaml",
        "staff:\n  - {id: a, name: A, role: auditor, network: network-1, email: a.a@psc.example.org}\n"
        "  - {id: b, name: B, role: auditor, network: central}\n",
    )
    assert [(m.role, m.network_id, m.email) for m in read_staff(good)] == [
        ("auditor", "network-1", "a.a@psc.example.org"),
        ("auditor", "central", None),
    ]
    bad_email = write(tmp_path, "e.yaml", "staff:\n  - {id: a, name: A, role: psa, network: n1, email: not-mail}\n")
    with pytest.raises(FileProblem, match=r"e.yaml:2: email is not an email address") as refused:
        read_staff(bad_email)
    assert "not-mail" not in str(refused.value)  # the value is not echoed
    psa_central = write(tmp_path, "c.yaml", "staff:\n  - {id: a, name: A, role: psa, network: central}\n")
    with pytest.raises(FileProblem, match="only central staff and auditors serve network 'central'"):
        read_staff(psa_central)


def test_a_school_list_with_bad_rows_reports_each_bad_line() -> None:
    text = (
        "school_id,short_name,long_name,network\n"
        "609794,EDISON,Thomas A Edison,Network 1\n"
        "12,X,X,\n"
        "609795,,,Network 2\n"
        "609794,EDISON,Thomas A Edison,Network 2\n"
    )
    _, problems = schools_or_problems(text, strict=True)
    assert problems == [
        "line 3: school_id: is not a six-digit school id",
        "line 4: long_name: is empty",
        "line 5: school_id: given before on line 2",
    ]
    _, problems = schools_or_problems("id,name\n1,x\n", strict=True)
    assert problems == ["line 1: the header has no school_id, long_name, network"]


def test_routing_refuses_to_start_with_a_bad_policy_file_naming_file_line_and_reason(tmp_path: Path) -> None:
    bad = write(tmp_path, "sla.yaml", 'version: "x"\nwarning_at: 2\ndefaults: {}\n')
    env = {**os.environ, "PSC_ROUTING_POLICY_FILE": str(bad)}
    started = subprocess.run(
        [sys.executable, "-m", "services.routing"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 1
    assert f"routing does not start: {bad}:2: warning_at must be between 0 and 1" in started.stderr
