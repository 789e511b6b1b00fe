"""``ClusterLog``: the Redis log (``RedisLog``, same scripts, same entries) on Redis Cluster.

URL: ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` for TLS): any
nodes of the cluster; the client learns the rest and follows the slot map (MOVED, ASK, a failover).

Keys. A script may only touch keys of one hash slot, so the log's state is kept per *group* of topics:
a topic's group is its hash tag, the text between its first ``{`` and the next ``}`` (``"{room42}.chat"``
and ``"{room42}.presence"`` share group ``room42``), or else the whole topic. Each group has its own
``<prefix>{<group>}last``, ``since`` and ``heads`` and the streams ``<prefix>{<group>}t:<topic>``, all in
one slot; groups spread over the slots, so over the masters. Within a group everything is as on one
Redis: one id counter orders its events, a data set (``since``) and a ``p`` chain per topic. Across groups
ids are not ordered, so the topics of ONE subscription must share a group (``InvalidTopic`` otherwise).

Delivery: each process has one reader task; each round it sends one pipeline of ``XREAD`` (one per group:
XREAD cannot span slots) that the cluster client splits by node, one connection per node that holds
watched topics. Nothing pending, it waits ``POLL_S`` (or until the watched set changes); a group's
``since`` is checked (``START``) when first read and after any fault, so a group whose data is gone gets
the "lost" reset, and the ``p`` chain gives the "gap" reset, exactly as on one Redis.

Failover: a publish waits (``WAIT``) until ``replicas`` replicas of the master hold the event, and fails
with ``BrokerUnavailable`` otherwise; so an acknowledged event survives its master's death (its replica,
promoted, has it). ``replicas=0`` for a cluster without replicas gives up that guarantee. ``WAIT`` counts
the writes of its own connection, so it must follow the script on the master that ran it: when the slot
moved meanwhile (MOVED) the publish raises ``BrokerUnavailable`` (stored, its replication unconfirmed).
Not covered: a script sent on by ASK (its slot half migrated), whose ``WAIT`` is answered by the old master.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple
from urllib.parse import unquote, urlsplit

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterError, NoScriptError, RedisClusterException

from ..errors import InvalidBrokerURL, InvalidTopic, InvalidType, InvalidValue
from .engine import LOST, Reset
from .memory import DEFAULT_HISTORY
from .redis import START, RedisLog, _quietly, parse_key, safe_url

log: logging.Logger = logging.getLogger("sse_fast.broker.cluster")

SCHEMES = ("redis+cluster", "rediss+cluster")
POLL_S = 0.01  # the reader's wait between rounds that found nothing new


def parse_cluster_url(url: str) -> Tuple[List[Tuple[str, int]], Dict[str, Any]]:
    """The nodes ``(host, port)`` and the client options of a ``redis+cluster://`` URL, else
    ``InvalidBrokerURL`` naming the part that is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidBrokerURL(f"a Redis Cluster URL starts with redis+cluster:// or rediss+cluster://, got {url!r}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    nodes = []
    for address in hosts.split(","):
        host, _, port = address.rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and int(port) <= 65535):
            raise InvalidBrokerURL(f"{safe_url(url)!r}: each node is host:port (port 0-65535), got {address!r}")
        nodes.append((host.strip("[]"), int(port)))
    if parts.path.strip("/") not in ("", "0"):
        raise InvalidBrokerURL(f"{safe_url(url)!r}: a cluster has only database 0, got {parts.path!r}")
    user, _, password = userinfo.partition(":")
    options = {"username": unquote(user) or None, "password": unquote(password) or None}
    return nodes, dict(options, ssl=parts.scheme == "rediss+cluster")


def group_of(topic: str) -> str:
    """The topic's group: its hash tag (between its first ``{`` and the next ``}``), else the topic."""
    start = topic.find("{")
    end = topic.find("}", start + 1) if start >= 0 else -1
    return topic[start + 1 : end] if end > start + 1 else topic


class ClusterLog(RedisLog):
    """An ``EventLog`` on the Redis Cluster at ``url``; ``RedisLog``'s options, and ``replicas``: how many
    replicas must hold an event before its publish returns. Keys are ``prefix`` + ``{group}`` + ``last``,
    ``since``, ``heads`` and ``t:`` + topic."""

    def __init__(
        self,
        url: str,
        history: int = DEFAULT_HISTORY,
        *,
        timeout: float = 2.0,
        max_backoff: float = 2.0,
        prefix: str = "sse_fast:",
        replicas: int = 1,
    ) -> None:
        if "{" in prefix or "}" in prefix:
            raise InvalidValue(f"on Redis Cluster the key prefix must have no braces (the hash tag), got {prefix!r}")
        if type(replicas) is not int or replicas < 0:
            refused = InvalidValue if type(replicas) is int else InvalidType
            raise refused(f"replicas must be an int >= 0, got {type(replicas).__name__} {replicas!r}")
        super().__init__(url, history, timeout=timeout, max_backoff=max_backoff, prefix=prefix)
        self.replicas = replicas
        self._sinces: Dict[str, bytes] = {}  # group -> the data set the reader reads in it
        self._looked: Set[str] = set()  # groups whose data set was checked since the last fault
        self._topics: Dict[bytes, str] = {}  # stream key -> topic, for the streams of the reader's round

    def _checked(self, url: str) -> str:
        parse_cluster_url(url)
        return url

    def check_topics(self, topics: Tuple[str, ...]) -> None:
        """Topics must share one group (hash tag): ids order events only within a group."""
        self.check_group(topics)

    def check_group(self, topics: Iterable[str]) -> str:
        """The one group of ``topics`` (valid names), else ``InvalidTopic``: ids order events only within a
        group."""
        groups = {group_of(t): t for t in topics}
        odd = [t for g, t in groups.items() if g.startswith("}")]
        if odd:  # its keys would read as an empty hash tag, which Redis ignores: they would span slots
            raise InvalidTopic(f"on Redis Cluster a topic without a hash tag must not start with '}}', got {odd[0]!r}")
        if len(groups) > 1:
            raise InvalidTopic(
                "on Redis Cluster the topics of one subscription must share a hash tag, e.g. '{room42}.chat' "
                f"and '{{room42}}.presence'; got topics in {len(groups)} groups: {sorted(groups.values())!r}"
            )
        return next(iter(groups))

    def _group_keys(self, group: str) -> List[str]:
        base = self.prefix + "{" + group + "}"
        return [base + "last", base + "since", base + "heads"]

    def _keys_for(self, topics: List[str]) -> List[str]:
        return self._group_keys(self.check_group(topics))

    def _stream(self, topic: str) -> str:
        return self.prefix + "{" + group_of(topic) + "}t:" + topic

    def _topic_of(self, stream: bytes) -> str:
        return self._topics[stream]

    def _client(self) -> Any:
        nodes, options = parse_cluster_url(self.url)
        return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes], **options, **self._options("async"))

    # -- publishing: the script, then WAIT on the same connection --------------------------------------

    async def append(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        keys, args = self._append_args(topic, body, id)
        return self._appended(await self._call(lambda: self._replicated(keys, args)), body)

    def append_sync(self, topic: str, body: bytes, id: Optional[str] = None) -> Tuple[str, bytes]:
        keys, args = self._append_args(topic, body, id)
        return self._appended(self._call_sync(lambda: self._replicated(keys, args)), body)

    async def _replicated(self, keys: List[str], args: List[Any]) -> Any:
        """Run APPEND; then, on the connection it ran on, ``WAIT`` for ``replicas`` replicas to hold it."""
        if not self.replicas:
            return await self._append(keys, args)
        await self._commands.initialize()  # at once once it knows the slots (and a refresh is not due)
        node = self._commands.get_node_from_key(keys[0])
        for command, script in (("EVALSHA", self._append.sha), ("EVAL", self._append.script)):
            pipe = self._commands.pipeline()
            pipe.execute_command(command, script, len(keys), *keys, *args)
            pipe.execute_command("WAIT", self.replicas, int(self.timeout * 500), target_nodes=node)
            entry_id, acknowledged = await pipe.execute(raise_on_error=False)
            if isinstance(entry_id, NoScriptError):
                continue  # this master has not seen the script yet (a promoted replica, say)
            if isinstance(entry_id, Exception):
                raise entry_id
            if self._commands.get_node_from_key(keys[0]).name != node.name:  # MOVED: WAIT ran on the old master
                raise self._unavailable(
                    f"Redis Cluster at {safe_url(self.url)}: event {entry_id.decode()} was stored on the slot's "
                    "new master while it moved; that a replica holds it is not confirmed"
                )
            if isinstance(acknowledged, Exception) or acknowledged < self.replicas:
                raise self._unavailable(
                    f"Redis Cluster at {safe_url(self.url)}: event {entry_id.decode()} was stored but "
                    f"{acknowledged!r} of the {self.replicas} replicas asked for held it within "
                    f"{self.timeout / 2} s (it may be lost in a failover); Broker(..., replicas=0) for a "
                    "cluster without replicas"
                )
            return entry_id
        raise self._unavailable(f"Redis Cluster at {safe_url(self.url)} refused the APPEND script")

    # -- reading ----------------------------------------------------------------------------------

    async def _read(self) -> None:
        """The reader task: each round one pipeline of XREAD (one per group, split by node), deliver,
        repeat; a group is checked (START) before its first read and after a fault."""
        backoff = 0.0
        while not self._closed:
            groups = self._grouped()
            self._changed.clear()
            if not groups:
                await self._changed.wait()
                continue
            try:
                unseen = [g for g in groups if g not in self._looked]
                if unseen:
                    await self._look_groups(unseen, groups)
                    continue  # the positions may have moved to a new data set
                pipe = self._commands.pipeline()
                for streams in groups.values():
                    pipe.xread(streams)
                replies = await pipe.execute(raise_on_error=False)
            except Exception as error:  # no reply at all: every group is checked again
                self._looked.clear()
                replies = [error]
            failed = [(g, r) for g, r in zip(groups, replies) if isinstance(r, Exception)]
            for reply in replies:
                if reply and not isinstance(reply, Exception):
                    self._dispatch(reply)
            if failed:  # those groups' nodes: back off, check them again, resume from their positions
                self._looked.difference_update(g for g, _ in failed)
                backoff = min(max(backoff * 2, 0.05), self.max_backoff)
                self._counts["reconnects"] += 1
                where = safe_url(self.url)
                log.warning("Redis Cluster reader at %s: %s; retrying in %.2f s", where, failed[0][1], backoff)
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            if not any(replies):
                self._lagged(0, 0)
                try:
                    await asyncio.wait_for(self._changed.wait(), POLL_S)
                except asyncio.TimeoutError:
                    pass

    def _grouped(self) -> Dict[str, Dict[str, str]]:
        """The watched topics' streams and positions, by group (each group's streams share one slot); the
        round's stream -> topic map (made anew, so it holds only the streams this round reads)."""
        groups: Dict[str, Dict[str, str]] = {}
        topics: Dict[bytes, str] = {}
        with self._lock:
            for topic, position in self._watched.items():
                stream = self._stream(topic)
                topics[stream.encode("utf-8", "surrogatepass")] = topic
                groups.setdefault(group_of(topic), {})[stream] = position
        self._topics = topics
        return groups

    async def _look_groups(self, groups: List[str], watched: Dict[str, Dict[str, str]]) -> None:
        """Measure the clock and check each group's data set (``START`` on the group's slot)."""
        for group in groups:
            before = time.monotonic() * 1000
            since, seconds, micros = await self._commands.eval(START, 3, *self._group_keys(group))
            after = time.monotonic() * 1000
            self._clock = (int(seconds) * 1000 + int(micros) / 1000 - (before + after) / 2, (after - before) / 2 + 1)
            self._new_data_set(since, self._topics[next(iter(watched[group])).encode("utf-8", "surrogatepass")])
            self._looked.add(group)

    def _new_data_set(self, since: bytes, topic: str = "") -> bool:
        """The reader sees data set ``since`` in ``topic``'s group; if it read another there before, the
        group's watched topics get a reset and are read again from the new data set's start."""
        group = group_of(topic)
        known, self._sinces[group] = self._sinces.get(group), since
        if known is None or known == since:
            return False
        head = since.decode()
        with self._lock:
            lost = {t: p for t, p in self._watched.items() if group_of(t) == group}
            self._watched.update(dict.fromkeys(lost, head))
            for t in lost:
                self._fresh.pop(t, None)
        for t, last in lost.items():
            self._report(t, Reset(head, parse_key(since), LOST, last))
        return True

    def _failure(self, error: Exception) -> Exception:
        if isinstance(error, (ClusterError, RedisClusterException)):  # redirects ran out, slots not served
            return self._unavailable(f"Redis Cluster at {safe_url(self.url)} failed: {type(error).__name__}: {error}")
        return super()._failure(error)

    async def _shutdown(self) -> None:
        self._reader_task.cancel()
        await _quietly(self._reader_task)
        await _quietly(self._commands.aclose())
