"""The files routing reads: the SLA policies and the staff directory (YAML), and a school list (CSV); the district
calendar file is read by ``shared.business_calendar`` (catalog's referral clocks run on it too). Each is validated
whole; an error names the file, the line and the reason, so a bad file refuses to start the service (or, for
``psc load-schools``, loads nothing) instead of half-applying.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import cast, get_args

from pydantic import TypeAdapter, ValidationError
from yaml.nodes import Node

from services.routing.directory import School, schools_from_rows
from services.routing.policies import TIERS, URGENCIES, SlaPolicies, Targets
from services.routing.staff import Staff, network_rule_problem
from shared.business_calendar.yaml_file import FileProblem, YamlFile
from shared.contracts.inquiries import InquiryCategory, Urgency
from shared.contracts.routing import StaffRole, Tier
from shared.contracts.text import Email

HERE = Path(__file__).parent
SLA_POLICIES = HERE / "policies" / "sla.yaml"
DEMO_STAFF = HERE / "data" / "staff_demo.yaml"

__all__ = ["FileProblem"]  # what a bad file raises, here as before: callers of this module catch it

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|h|d)$")


def business_duration(raw: str, *, business_day_seconds: int) -> int:
    """'30m', '4h', '2d' (a business day, 8:00 to 17:00 = 9 h by default) as business seconds."""
    match = _DURATION.match(raw.strip())
    if not match:
        raise ValueError(f"{raw!r} is not a duration such as 30m, 4h or 2d")
    amount, unit = float(match.group(1)), match.group(2)
    seconds = amount * {"m": 60, "h": 3600, "d": business_day_seconds}[unit]
    if seconds < 60:
        raise ValueError(f"{raw!r} is shorter than a minute")
    return int(seconds)


# -- SLA policies ---------------------------------------------------------------------------------------------------


def read_policies(path: Path, *, business_day_seconds: int) -> SlaPolicies:
    """The SLA policy file (see its header): every category of ``InquiryCategory`` and both urgencies resolve, every
    tier has both targets, and first response comes no later than resolution."""
    doc = YamlFile(path)
    root = doc.load(path.read_text(encoding="utf-8"))
    top = doc.mapping(root, "the policy file", keys={"version", "warning_at", "defaults", "categories"})
    version = doc.text(doc.required(top, "version", root, "the policy file"), "version")
    warning_node = doc.required(top, "warning_at", root, "the policy file")
    try:
        warning_at = float(doc.text(warning_node, "warning_at"))
    except ValueError:
        raise doc.fail(warning_node, "warning_at must be a number between 0 and 1, e.g. 0.75") from None
    if not 0 < warning_at < 1:
        raise doc.fail(warning_node, "warning_at must be between 0 and 1 (exclusive), e.g. 0.75")

    def tiers_of(node: Node, where: str) -> dict[Tier, Targets]:
        fields = doc.mapping(node, where, keys=set(TIERS))
        out: dict[Tier, Targets] = {}
        for tier in TIERS:
            tier_node = doc.required(fields, tier, node, where)
            targets = doc.mapping(tier_node, f"{where}.{tier}", keys={"first_response", "resolution"})
            seconds: dict[str, int] = {}
            for name in ("first_response", "resolution"):
                value = doc.required(targets, name, tier_node, f"{where}.{tier}")
                try:
                    seconds[name] = business_duration(
                        doc.text(value, f"{where}.{tier}.{name}"), business_day_seconds=business_day_seconds
                    )
                except ValueError as exc:
                    raise doc.fail(value, f"{where}.{tier}.{name}: {exc}") from None
            if seconds["first_response"] > seconds["resolution"]:
                raise doc.fail(tier_node, f"{where}.{tier}: first_response is longer than resolution")
            out[tier] = Targets(**seconds)
        return out

    def urgencies_of(node: Node, where: str, *, complete: bool) -> dict[Urgency, dict[Tier, Targets]]:
        fields = doc.mapping(node, where, keys=set(URGENCIES))
        if complete:
            for urgency in URGENCIES:
                doc.required(fields, urgency, node, where)
        return {urgency: tiers_of(fields[urgency], f"{where}.{urgency}") for urgency in URGENCIES if urgency in fields}

    defaults = urgencies_of(doc.required(top, "defaults", root, "the policy file"), "defaults", complete=True)
    overrides: dict[str, dict[Urgency, dict[Tier, Targets]]] = {}
    if "categories" in top:
        known = {category.value for category in InquiryCategory}
        doc.mapping(top["categories"], "categories")  # a mapping, no key twice
        for key_node, value in top["categories"].value:
            key = str(key_node.value)
            if key not in known:
                raise doc.fail(key_node, f"unknown category {key!r} (known: {', '.join(sorted(known))})")
            overrides[key] = urgencies_of(value, f"categories.{key}", complete=False)
    targets: dict[tuple[str, Urgency, Tier], Targets] = {}
    for category in InquiryCategory:
        for urgency in URGENCIES:
            tiers = overrides.get(category.value, {}).get(urgency) or defaults[urgency]
            for tier in TIERS:
                targets[(category.value, urgency, tier)] = tiers[tier]
    return SlaPolicies(version=version, warning_at=warning_at, targets=targets)


# -- Staff ----------------------------------------------------------------------------------------------------------

_ROLES = set(get_args(StaffRole))
_STAFF_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


def read_staff(path: Path) -> list[Staff]:
    """The staff file: ``staff:`` a list of ``id``, ``name``, ``role``, ``network`` (a network id, 'central' for
    central staff), and optionally ``email`` (their work address) and ``active``. Auditors (role ``auditor``) read and
    are never given inquiries."""
    doc = YamlFile(path)
    root = doc.load(path.read_text(encoding="utf-8"))
    top = doc.mapping(root, "the staff file", keys={"staff"})
    out: list[Staff] = []
    seen: set[str] = set()
    for entry in doc.sequence(doc.required(top, "staff", root, "the staff file"), "staff"):
        fields = doc.mapping(entry, "a staff entry", keys={"id", "name", "role", "network", "email", "active"})
        staff_id = doc.text(doc.required(fields, "id", entry, "a staff entry"), "id")
        if not _STAFF_ID.match(staff_id):
            raise doc.fail(fields["id"], "id must be lowercase letters, digits, '.', '_' or '-' (at most 64)")
        if staff_id in seen:
            raise doc.fail(fields["id"], f"staff id {staff_id!r} is given twice")
        seen.add(staff_id)
        raw_role = doc.text(doc.required(fields, "role", entry, "a staff entry"), "role")
        if raw_role not in _ROLES:
            raise doc.fail(fields["role"], f"role {raw_role!r} is not one of {', '.join(sorted(_ROLES))}")
        role = cast(StaffRole, raw_role)
        network = doc.text(doc.required(fields, "network", entry, "a staff entry"), "network")
        problem = network_rule_problem(role, network)
        if problem:
            raise doc.fail(fields["network"], problem)
        active = True
        if "active" in fields:
            raw = doc.text(fields["active"], "active").lower()
            if raw not in ("true", "false"):
                raise doc.fail(fields["active"], "active must be true or false")
            active = raw == "true"
        email = None
        if "email" in fields:
            try:
                email = str(_EMAIL.validate_python(doc.text(fields["email"], "email")))
            except ValidationError:
                raise doc.fail(fields["email"], "email is not an email address") from None
        name = doc.text(doc.required(fields, "name", entry, "a staff entry"), "name")
        out.append(Staff(id=staff_id, name=name, role=role, network_id=network, active=active, email=email))
    return out


# -- School lists ---------------------------------------------------------------------------------------------------


def read_school_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def schools_or_problems(text: str, *, strict: bool) -> tuple[list[School], list[str]]:
    """The schools of a school list (CSV with school_id, short_name, long_name, network) and a line per bad row
    (``line N: field: reason``). ``strict`` (``psc load-schools``): a missing column is a problem too."""
    rows = read_school_rows(text)
    header = next(iter(csv.reader(io.StringIO(text))), [])
    problems: list[str] = []
    if strict:
        missing = [name for name in ("school_id", "long_name", "network") if name not in header]
        if missing:
            return [], [f"line 1: the header has no {', '.join(missing)}"]
    schools, rows_wrong = schools_from_rows(rows)
    problems.extend(f"line {p.line}: {p.field}: {p.reason}" for p in rows_wrong)
    seen: dict[int, int] = {}
    for line, row in enumerate(rows, start=2):
        raw = (row.get("school_id") or "").strip()
        if raw.isdigit():
            if int(raw) in seen:
                problems.append(f"line {line}: school_id: given before on line {seen[int(raw)]}")
            seen.setdefault(int(raw), line)
    return schools, problems
