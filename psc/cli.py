"""``psc``: the platform's command line.

``psc create-topics`` is an operator command and runs from the container image, which installs the platform without
the embedded extra. ``psc run`` starts the whole local stack (``make run``) and imports ``devstack`` only when it runs,
so the other commands never need the embedded wheels.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from devstack.stack import Stack, StackInfo

app = typer.Typer(help="Parent Support Center platform", no_args_is_help=True, add_completion=False)


@app.command()
def run(
    var_dir: Annotated[Path, typer.Option(help="Where data, logs and stack.json live")] = Path("var"),
    free_ports: Annotated[bool, typer.Option("--free-ports", help="Pick unused ports instead of the defaults")] = False,
) -> None:
    """Start broker, database, mail catcher, SMS sink and the four services; stop them all on Ctrl-C."""
    try:
        from devstack.stack import Stack, StackPorts
    except ModuleNotFoundError as exc:
        print(
            f"psc run needs the embedded extra (pip install 'parent-support-center[embedded]'): {exc.name} is missing",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
    raise typer.Exit(asyncio.run(_run(Stack(var_dir, StackPorts.free() if free_ports else StackPorts()))))


def _print_urls(info: StackInfo) -> None:
    width = max(len(name) for name in info.urls)
    print("\nParent Support Center stack is up:")
    print(f"  {'kafka':<{width}}  {info.kafka_bootstrap}")
    print(f"  {'database':<{width}}  {info.database_url}")
    for name, url in info.urls.items():
        print(f"  {name:<{width}}  {url}")
    print(f"  {'logs':<{width}}  {info.logs}")
    print(f"\nThe same as JSON: {Path(info.var_dir) / 'stack.json'}\nCtrl-C stops everything.\n", flush=True)


async def _run(stack: Stack) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        info = await stack.start(echo=True)
    except Exception as exc:
        print(f"\nthe stack did not start: {exc}", flush=True)
        return 1
    _print_urls(info)
    code = 0
    while not stop.is_set():
        try:
            stack.raise_if_any_died()
        except RuntimeError as exc:
            print(f"\n{exc}\nstopping the stack.", flush=True)
            code = 1
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    print("stopping ...", flush=True)
    stack.stop()
    print("stopped.", flush=True)
    return code


@app.command("create-topics")
def create_topics() -> None:
    """Create the platform's topics on the broker named by PSC_KAFKA_BOOTSTRAP (idempotent)."""
    from shared.contracts.topics import ALL_TOPICS
    from shared.kafka.connection import ensure_topics
    from shared.settings import PlatformSettings

    created = asyncio.run(ensure_topics(PlatformSettings(), list(ALL_TOPICS)))
    print(f"created: {', '.join(created) or 'none (all existed)'}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
