"""When the local stack restarts a crashed process and when it gives up (devstack/supervision.py): pure rules."""

import pytest

from devstack.supervision import CrashHistory, GiveUp, Restart, RestartPolicy, describe_exit


def test_the_pause_before_a_restart_doubles_with_each_crash_up_to_a_ceiling() -> None:
    policy = RestartPolicy(first_delay=0.5, factor=2, max_delay=3, crash_limit=10, window=60)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_the_fifth_crash_within_a_minute_is_a_crash_loop() -> None:
    history = CrashHistory(RestartPolicy(first_delay=0.5, crash_limit=5, window=60))
    decisions = [history.crashed(at) for at in (0.0, 1.0, 3.0, 7.0)]
    assert decisions == [Restart(0.5, 1), Restart(1.0, 2), Restart(2.0, 3), Restart(4.0, 4)]
    assert history.crashed(15.0) == GiveUp(crashes=5, window=60)


def test_crashes_older_than_the_window_are_forgotten_so_a_process_that_ran_a_while_restarts_quickly() -> None:
    history = CrashHistory(RestartPolicy(first_delay=0.5, crash_limit=5, window=60))
    for at in (0.0, 10.0, 20.0, 30.0):
        assert isinstance(history.crashed(at), Restart)
    assert history.crashed(95.0) == Restart(delay=0.5, crashes=1)  # the four before are over a minute old
    assert history.crashed(96.0) == Restart(delay=1.0, crashes=2)


def test_crashes_while_the_broker_or_database_was_away_do_not_count() -> None:
    history = CrashHistory(RestartPolicy(crash_limit=3, window=60))
    history.crashed(0.0)
    history.crashed(1.0)
    history.forget()
    assert history.crashed(2.0) == Restart(delay=0.5, crashes=1)


def test_a_limit_of_one_gives_up_at_the_first_crash() -> None:
    assert CrashHistory(RestartPolicy(crash_limit=1)).crashed(0.0) == GiveUp(crashes=1, window=60)


@pytest.mark.parametrize(
    "policy",
    [
        {"first_delay": -1},
        {"factor": 0.5},
        {"first_delay": 10, "max_delay": 1},
        {"crash_limit": 0},
        {"window": 0},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RestartPolicy(**policy)  # type: ignore[arg-type]


def test_an_exit_is_told_as_a_signal_or_a_code() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-15) == "killed by SIGTERM"
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(None) == "still running"
