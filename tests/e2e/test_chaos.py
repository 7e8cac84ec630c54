"""The fault run of ``make chaos``, shorter: a minute of load through both doors while every service process is
killed, PostgreSQL and the broker restart, a consumer is paused past its session and malformed records arrive on
every consumed topic. Then nothing is lost, nothing is duplicated, every notification went once, every due SLA
clock fired once, no consumer group is stuck, and the dead letters are exactly the malformed records.

No figure of time is asserted: the machine is shared, and the run's timings are reported, not judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import MALFORMED_KINDS, Config, run_once, table

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.timeout(1200)
async def test_under_faults_every_inquiry_is_kept_once_and_every_parent_told_once(tmp_path: Path) -> None:
    # The clock x20000 (a business day in about 2 s): deadlines fall due within the minute even when the run starts
    # in a closed week of the district calendar (Thanksgiving, the winter break), which x2000 does not cross.
    cfg = Config(duration=60.0, rate=6.0, seed=11, kills_each=1, bursts=1, clock_speed=20000.0)
    outcome = await run_once(cfg, tmp_path / "faults")
    print(table(cfg, outcome, None))

    kinds = {fault.kind for fault in outcome.faults_done}
    assert kinds == {"kill", "postgres", "pause", "malformed", "broker"}
    killed = {fault.target for fault in outcome.faults_done if fault.kind == "kill" and not fault.note}
    assert killed == {"intake", "routing", "routing-2", "notify", "notify-2", "catalog"}

    assert outcome.accepted == outcome.offered > 0, outcome.problems()
    assert outcome.lost == 0
    assert outcome.duplicated == 0
    assert outcome.unassigned == 0 and outcome.assignment_rows_wrong == 0
    assert outcome.notes_expected > outcome.accepted  # the texts too
    assert outcome.notes_missing == 0
    assert outcome.notes_duplicated == 0
    assert outcome.sla_fired > 0, "the sped-up clock let no deadline fall due"
    assert outcome.sla_duplicated == 0
    assert outcome.sla_overdue_unfired == 0
    assert outcome.sla_unannounced == 0
    assert outcome.groups_behind == {}
    assert outcome.bad_sent == 5 * len(MALFORMED_KINDS) * cfg.burst_copies
    assert outcome.bad_unhandled == 0
    assert outcome.good_parked == 0
    assert outcome.problems() == []
