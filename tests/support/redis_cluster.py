"""A real Redis Cluster for the cluster broker tests: six ``redis-server`` processes (``RedisServer``, with
``cluster-enabled yes``) on loopback ports, joined by ``redis-cli --cluster create`` as three masters with
one replica each; a killed master's replica takes over within about a second (``cluster-node-timeout``).
Everything is stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from typing import Dict, Iterator, List, Optional, Tuple

from support.ports import HOST, free_port
from support.redis_server import RedisServer

REDIS_CLI = "/usr/bin/redis-cli"
NODE_TIMEOUT_MS = 1000  # how long a master may be silent before its replica is promoted


def missing_reason() -> Optional[str]:
    """Why the cluster tests cannot run here, or None."""
    from support.redis_server import missing_reason as server_missing

    if server_missing() is not None:
        return server_missing()
    if not os.path.exists(REDIS_CLI):
        return f"{REDIS_CLI} is not installed (Debian's redis-tools)"
    return None


class ClusterNode(RedisServer):
    """One cluster member: AOF on, its ``nodes.conf`` in its own directory, replicas always eligible, the
    other shards serving while one is down, its
    cluster bus on a free port of its own (the default, port + 10000, may not exist)."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.bus_port = free_port()

    def command(self) -> List[str]:
        return super().command() + [
            "--cluster-port",
            str(self.bus_port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-replica-validity-factor",
            "0",
            "--cluster-require-full-coverage",
            "no",  # the other masters serve while one shard fails over
            "--appendfsync",
            "everysec",
        ]

    def cli(self, *args: str, timeout: float = 5) -> str:
        """``redis-cli -p <port> args...``; its output (empty when the node does not answer)."""
        try:
            done = subprocess.run(
                [REDIS_CLI, "-h", HOST, "-p", str(self.port), *args], capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout.decode(errors="replace")

    def info(self) -> Dict[str, str]:
        """``CLUSTER INFO`` as a dict (empty when the node does not answer)."""
        lines = (line.partition(":") for line in self.cli("cluster", "info").splitlines())
        return {key: value.strip() for key, _, value in lines if value}

    def role(self) -> str:
        """ "master" or "slave" (as ``ROLE`` says), or "" when the node does not answer."""
        return (self.cli("role").splitlines() or [""])[0]


class Cluster:
    """Six started nodes; ``url`` is the ``redis+cluster://`` URL naming them all."""

    def __init__(self, nodes: List[ClusterNode]) -> None:
        self.nodes = nodes
        self.url = "redis+cluster://" + ",".join(f"{HOST}:{n.port}" for n in nodes)

    def alive(self) -> List[ClusterNode]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def healthy(self, replicated: bool = True) -> bool:
        """Every live node sees the cluster as ok, the live masters serve all 16384 slots between them, and
        (``replicated``) each has a replica in sync."""
        if not all(n.info().get("cluster_state") == "ok" for n in self.alive()):
            return False
        masters = self._masters()
        if sum(_slots(line) for line in masters.values()) != 16384:
            return False
        in_sync = ("state=online" in n.cli("info", "replication") for n in self.alive() if n.port in masters)
        return not replicated or all(in_sync)

    def _masters(self) -> Dict[int, str]:
        """Each live master's port -> its own ``CLUSTER NODES`` line (``myself``)."""
        masters = {}
        for node in self.alive():
            me = next((line for line in node.cli("cluster", "nodes").splitlines() if "myself" in line), "")
            if me and "master" in me.split()[2].split(","):
                masters[node.port] = me
        return masters

    def master_of(self, key: str) -> ClusterNode:
        """The live master that serves ``key``'s slot now."""
        slot = int(self.alive()[0].cli("cluster", "keyslot", key).strip())
        for port, me in self._masters().items():
            if any(low <= slot <= high for low, high in _ranges(me)):
                return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no live master serves slot {slot} of {key!r}")

    def other_master(self, than: ClusterNode) -> ClusterNode:
        """A live master other than ``than``."""
        return next(n for n in self.nodes if n.port in self._masters() and n is not than)

    def move_slot(self, key: str, to: ClusterNode) -> None:
        """Move ``key``'s slot, with its keys, to master ``to`` as ``redis-cli --cluster reshard`` does:
        IMPORTING/MIGRATING (clients meanwhile get ASK for moved keys), MIGRATE in batches, then the new
        owner is announced to every master (clients then get MOVED)."""
        slot = self.alive()[0].cli("cluster", "keyslot", key).strip()
        source = self.master_of(key)
        source_id, target_id = source.cli("cluster", "myid").strip(), to.cli("cluster", "myid").strip()
        to.cli("cluster", "setslot", slot, "importing", source_id)
        source.cli("cluster", "setslot", slot, "migrating", target_id)
        while True:
            keys = source.cli("cluster", "getkeysinslot", slot, "10").split()
            if not keys:
                break
            for key_ in keys:  # one at a time: clients meet a slot whose keys are on both nodes
                source.cli("migrate", HOST, str(to.port), key_, "0", "5000")
                time.sleep(0.05)
        for node in (to, source, *(n for n in self.alive() if n.port in self._masters())):
            node.cli("cluster", "setslot", slot, "node", target_id)

    def wait_healthy(self, replicated: bool = True, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy(replicated):
            if time.monotonic() > deadline:
                states = {n.port: n.info().get("cluster_state") for n in self.alive()}
                raise AssertionError(f"the cluster did not become ok within {timeout} s: {states}")
            time.sleep(0.1)


def _ranges(nodes_line: str) -> List[Tuple[int, int]]:
    """The slot ranges a ``CLUSTER NODES`` line lists (slots being migrated left out)."""
    ranges = []
    for part in nodes_line.split()[8:]:
        if not part.startswith("["):
            low, _, high = part.partition("-")
            ranges.append((int(low), int(high or low)))
    return ranges


def _slots(nodes_line: str) -> int:
    return sum(high - low + 1 for low, high in _ranges(nodes_line))


@contextlib.contextmanager
def redis_cluster(directory: str, count: int = 6) -> Iterator[Cluster]:
    """A started cluster of ``count`` nodes (half masters, half replicas) under ``directory``, stopped on exit."""
    shutil.rmtree(directory, ignore_errors=True)
    nodes: List[ClusterNode] = []
    try:
        for n in range(count):
            path = os.path.join(directory, f"node{n}")
            os.makedirs(path)
            nodes.append(ClusterNode(path))
            nodes[-1].start()
        addresses = [f"{HOST}:{n.port}" for n in nodes]
        create = [REDIS_CLI, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-1500:]!r} {done.stderr[-500:]!r}")
        cluster = Cluster(nodes)
        cluster.wait_healthy()
        yield cluster
    finally:
        for node in nodes:
            node.stop()
