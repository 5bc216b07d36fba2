"""A throw-away multi-node Ray cluster on this machine: a head and worker nodes as separate `ray start` processes
(not Ray's local mode), for the cluster tests, the benchmark and trying `grade --cluster` before a real cluster.

Run it only inside a network namespace with just loopback up (`make ray-test` does: ``unshare --net``); Ray
probes outside addresses when it starts. Every node's processes share a process group of their own, recorded at
start and killed by id: never `ray stop`, which kills every Ray process on the host by name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# A lost node is noticed in about 2.5 s instead of 12; a node agent slow to start on a loaded machine is waited for.
RAY_ENV = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
           "RAY_health_check_failure_threshold": "3", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_agent_register_timeout_ms": "180000"}


def loopback_only() -> bool:
    """Inside a namespace whose only interface is lo (/sys/class/net would still list the host's)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


class Node:
    """One `ray start` and the daemons it leaves behind, all in one process group of their own."""

    def __init__(self, *args: str, tries: int = 3) -> None:
        ray = str(Path(sys.executable).with_name("ray"))
        common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats", "--object-store-memory=300000000"]
        output = b""
        for _ in range(tries):  # `ray start` gives a raylet 30 s to register, which a loaded machine can miss
            start = subprocess.Popen([ray, "start", *args, *common], start_new_session=True,
                                     env={**os.environ, **RAY_ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            output, _ = start.communicate(timeout=180)
            self.pgid = start.pid
            if start.returncode == 0:
                return
            self.kill()
        raise RuntimeError(f"ray start {' '.join(args)} failed {tries} times: {output.decode(errors='replace')}")

    def kill(self) -> None:
        """Crash the node: freeze its group, then SIGKILL the group and every descendant by pid."""
        if self.pgid == os.getpgid(0):
            raise RuntimeError("refusing to kill the caller's own process group")
        try:
            os.killpg(self.pgid, signal.SIGSTOP)
        except ProcessLookupError:
            return
        for pid in group_and_descendants(self.pgid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def group_and_descendants(pgid: int) -> set[int]:
    """Members of a process group and all their descendants (workers have process groups of their own)."""
    parents: dict[int, int] = {}
    members: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        if int(fields[2]) == pgid:
            members.add(pid)
    while True:
        children = {pid for pid, parent in parents.items() if parent in members} - members
        if not children:
            return members
        members |= children


class LocalCluster:
    """A head (no CPUs: it only places actors) and grading nodes, each offering ``{"grader": slots}``."""

    def __init__(self, port: int = 6379) -> None:
        if not loopback_only():
            raise RuntimeError("start the local Ray cluster inside a loopback-only network namespace (unshare --net)")
        self.port = port
        self.temp = Path(tempfile.mkdtemp(prefix="agray-"))  # short: Ray's socket paths must fit in 107 bytes
        self.nodes: list[Node] = [Node("--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false",
                                       f"--temp-dir={self.temp}")]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_node(self, name: str, cpus: int = 1, slots: int = 1) -> Node:
        """A grading node with its own resource ``name`` (to pin work to it) and disjoint worker ports."""
        low = 21000 + 1000 * len(self.nodes)
        node = Node(f"--address={self.address}", f"--num-cpus={cpus}",
                    f"--resources={json.dumps({'grader': slots, name: 1})}",
                    f"--min-worker-port={low}", f"--max-worker-port={low + 999}")
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        try:
            import ray
            ray.shutdown()
        except ImportError:
            pass
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.temp, ignore_errors=True)
