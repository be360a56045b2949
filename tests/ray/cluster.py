"""A real Ray cluster on loopback for tests: ``ray start --head`` plus optional worker nodes.

Ray replaces 127.0.0.1 by the machine's interface address, so the head listens on
127.0.0.2 and worker nodes on 127.0.0.3, 127.0.0.4, ...: all traffic stays on loopback.
Each node is a ``ray start --block`` process in its own session; stopping a node sends
SIGTERM to its process group, then SIGKILL to whatever is left of it (by process id).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

HEAD_IP = "127.0.0.2"


def free_port(host: str = HEAD_IP) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class RayNode:
    ip: str
    proc: subprocess.Popen[bytes]
    log: Path
    log_file: IO[bytes]

    def pids(self) -> list[int]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def stop(self, grace: float = 10.0) -> None:
        pids = self.pids()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in pids):
            time.sleep(0.2)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.log_file.close()


@dataclass
class RayCluster:
    port: int
    tmp: Path
    nodes: list[RayNode] = field(default_factory=list)
    _added: int = 0

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    def start_head(self, num_cpus: int = 2) -> RayNode:
        return self._start(
            HEAD_IP,
            ["--head", f"--port={self.port}", "--include-dashboard=false"],
            num_cpus,
        )

    def add_node(self, num_cpus: int = 2, resources: dict[str, float] | None = None) -> RayNode:
        ip = f"127.0.0.{3 + self._added}"
        self._added += 1
        extra = [f"--address={self.address}"]
        if resources:
            extra.append(f"--resources={json.dumps(resources)}")
        return self._start(ip, extra, num_cpus)

    def _start(self, ip: str, extra: list[str], num_cpus: int) -> RayNode:
        log = self.tmp / f"ray-{ip}.log"
        log_file = log.open("wb")
        proc = subprocess.Popen(
            [
                "ray",
                "start",
                "--block",
                "--disable-usage-stats",
                f"--node-ip-address={ip}",
                f"--num-cpus={num_cpus}",
                f"--temp-dir={self.tmp / 'ray'}" if not self.nodes else f"--node-name={ip}",
                *extra,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        node = RayNode(ip, proc, log, log_file)
        self.nodes.append(node)
        return node

    def wait_for_nodes(self, count: int, timeout: float = 120.0) -> None:
        import ray

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [n for n in ray.nodes() if n.get("Alive")]
            if len(alive) >= count:
                return
            time.sleep(0.5)
        raise TimeoutError(f"the Ray cluster did not reach {count} live nodes")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        self.nodes.clear()


def connect(address: str, timeout: float = 120.0) -> None:
    """``ray.init`` against the cluster, retrying while the head starts."""
    import ray

    deadline = time.monotonic() + timeout
    while True:
        try:
            ray.init(
                address=address,
                _node_ip_address=HEAD_IP,
                include_dashboard=False,
                configure_logging=False,
                log_to_driver=False,
            )
            return
        except (ConnectionError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


@contextlib.contextmanager
def running_cluster(tmp: Path, num_cpus: int = 2) -> Iterator[RayCluster]:
    """A head node on loopback with the driver connected; everything stopped on exit.

    A cluster on loopback needs no tokens; ``RAY_AUTH_MODE=disabled`` keeps the nodes and
    the driver in agreement whatever ``~/.ray/auth_token`` an earlier local ``ray.init()``
    left behind. The variable is restored on exit.
    """
    import ray

    previous_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    cluster = RayCluster(port=free_port(), tmp=tmp)
    cluster.start_head(num_cpus=num_cpus)
    try:
        connect(cluster.address)
        cluster.wait_for_nodes(1)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        if previous_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_mode
