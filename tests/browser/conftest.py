"""Browser tests: the whole stack as real processes (``psc run --free-ports``, the same as ``make run``: real broker,
real PostgreSQL, every service), once for all of them, and Debian's Chromium driven by Playwright.

Chromium must be at /usr/bin/chromium (``make browser`` and ``make test`` install it): if it is missing the tests
fail, never skip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _stack_info(var_dir: Path, runner: subprocess.Popen[str], *, within: float) -> dict[str, Any]:
    """stack.json once ``psc run`` has written it (the services are ready and the demo accounts made)."""
    written = var_dir / "stack.json"
    give_up = time.monotonic() + within
    while not written.exists():
        if runner.poll() is not None or time.monotonic() > give_up:
            runner.kill()
            said = runner.communicate()[0] if runner.stdout else ""
            pytest.fail(f"psc run did not bring the stack up within {within:.0f} s:\n{said[-4000:]}")
        time.sleep(0.25)
    info: dict[str, Any] = json.loads(written.read_text())
    return info


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``make run``'s stack on free ports, one for every browser test."""
    var_dir = tmp_path_factory.mktemp("browser-stack")
    clean = {name: value for name, value in os.environ.items() if not name.startswith("PSC_")}
    clean["PSC_INTAKE_CONSOLE_POLL_SECONDS"] = "2"  # the queue looks for new arrivals every 2 s (10 by default)
    command = [sys.executable, "-m", "psc.cli", "run", "--free-ports", "--var-dir", str(var_dir)]
    runner = subprocess.Popen(command, env=clean, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield _stack_info(var_dir, runner, within=180)
    finally:
        runner.send_signal(signal.SIGINT)  # Ctrl-C: the runner stops every process it started
        try:
            runner.wait(60)
        except subprocess.TimeoutExpired:
            runner.kill()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: missing, the browser tests fail (never skip)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium fonts-noto-cjk)")
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, through Playwright's async API on the suite's one event loop (the sync API would
    run a loop of its own and leave the async tests after it without one)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


def account(stack: dict[str, Any], *, role: str, network_id: str) -> dict[str, str]:
    for found in stack["demo_accounts"]:
        if found["role"] == role and found["network_id"] == network_id:
            return dict(found)
    raise AssertionError(f"no demo account {role} of {network_id}")
