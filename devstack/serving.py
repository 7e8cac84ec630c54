"""Serving the development sinks inside an event loop we own (the mail catcher shares its loop with an SMTP server;
tests run them in the test's loop), and stopping them cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Coroutine, Iterator
from typing import Any, Literal

import uvicorn
import uvloop
from fastapi import FastAPI

log = logging.getLogger(__name__)


class LoopOwnedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to whoever owns the event loop.

    uvicorn would otherwise replace the process's SIGINT/SIGTERM handlers while it runs and re-raise the signal after
    it stops: wrong for a server that shares its loop with another, and inside a test run.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn: uvicorn calls sys.exit when a bind fails, we want an OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def start_http(
    app: FastAPI, *, host: str, port: int, name: str, lifespan: Literal["on", "off"] = "off"
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Serve ``app`` in this loop; return once it listens."""
    # No log config of uvicorn's own (the process owner decides) and no access log: paths may carry personal data.
    # Keep-alive 75 s like the services (shared.service.run_service): longer than any client keeps an idle connection.
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=75,
    )
    server = LoopOwnedServer(config)
    sock = listening_socket(host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=name)
    try:
        while not server.started:  # uvicorn has no "started" event to await
            if task.done():
                task.result()
                raise RuntimeError(f"{name} stopped while starting")
            await asyncio.sleep(0.01)
    except BaseException:
        await stop_http(server, task)
        sock.close()
        raise
    return server, task


async def stop_http(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve_until_cancelled(task: asyncio.Task[None], ready: asyncio.Event | None = None) -> None:
    """Set ``ready`` (the server listens), then wait until the server task fails or we are cancelled."""
    if ready is not None:
        ready.set()
    # asyncio.wait, not await: a cancel must reach us, not the uvicorn task, so the caller can stop it gracefully.
    await asyncio.wait([task])
    task.result()


def run_as_process(name: str, server: Coroutine[Any, Any, None]) -> None:
    """``main`` of a sink run as a process: log to stderr, end normally on SIGTERM or SIGINT, exit 1 if it cannot
    listen (a port in use).

    On uvloop, as the services run (uvicorn's loop="auto" picks it): the sinks stand in for providers in benchmarks,
    and asyncio's own loop costs them a good part of their CPU per request. The process owns its loop, so nothing
    else has to agree to the choice (in tests the sinks run in the test's loop instead)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        uvloop.run(run_until_signalled(server))
    except OSError as exc:
        log.error("%s could not start: %s", name, exc)
        raise SystemExit(1) from None


async def run_until_signalled(server: Coroutine[Any, Any, None]) -> None:
    """Run a server until SIGTERM or SIGINT, which cancel it: a requested stop, so it ends normally (exit 0)."""
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(server)
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
