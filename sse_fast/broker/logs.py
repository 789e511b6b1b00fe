"""Which ``EventLog`` a ``Broker`` runs on, chosen once from its arguments.

No URL: a ``MemoryLog`` (``history``, ``max_age``, ``max_bytes``). A ``redis://``, ``rediss://`` or
``unix://`` URL: a ``RedisLog`` (``history``, ``timeout``, ``max_backoff``, ``prefix``); a ``redis+cluster://``
or ``rediss+cluster://`` URL: a ``ClusterLog`` (the same, and ``replicas``). Both are imported only then, so
the in-process broker never imports redis-py. ``log=``: that log, as given. A keyword that only one engine
takes, given for another, is refused with ``InvalidType`` naming it, as Python refuses a keyword a function
does not take.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from ..errors import InvalidBrokerURL, InvalidType
from .engine import EventLog
from .memory import MemoryLog

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def log_for(
    url: Optional[str],
    log: Optional[EventLog],
    history: int,
    memory_options: Dict[str, Any],
    redis_options: Dict[str, Any],
) -> EventLog:
    """The log for ``Broker(url, log=log, history=history, **memory_options, **redis_options)``: each engine's
    own keywords, None where the caller left the default."""
    memory = {name: value for name, value in memory_options.items() if value is not None}
    redis = {name: value for name, value in redis_options.items() if value is not None}
    if log is not None:
        if url is not None:
            raise InvalidType(f"Broker() takes a URL or a log=, not both; got {url!r} and {log!r}")
        _refuse({**memory, **redis}, "Broker(log=...) runs on the log given", "that log has its own options")
        return log
    if url is None:
        _refuse(redis, "Broker() without a URL runs in this process", "they are Redis options")
        return MemoryLog(history, **memory)
    if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES + CLUSTER_SCHEMES):
        raise InvalidBrokerURL(f"Broker() takes no URL (in-process), a redis:// or a redis+cluster:// URL, got {url!r}")
    scheme = url.split("://")[0]
    why = "they bound the in-process log; on Redis history= bounds each topic"
    _refuse(memory, f'Broker("{scheme}://...") runs on Redis', why)
    if url.startswith(CLUSTER_SCHEMES):
        from .cluster import ClusterLog  # redis-py only when a Redis URL is given; MissingExtra without it

        return ClusterLog(url, history, **redis)
    cluster_only = {name: value for name, value in redis.items() if name == "replicas"}
    _refuse(cluster_only, f'Broker("{scheme}://...") runs on one Redis', "it is a Redis Cluster option")
    from .redis import RedisLog

    return RedisLog(url, history, **redis)


def _refuse(given: Dict[str, Any], call: str, why: str) -> None:
    if given:
        values = ", ".join(f"{name}={value!r}" for name, value in given.items())
        raise InvalidType(f"{call} and takes no {', '.join(given)} ({why}); got {values}")
