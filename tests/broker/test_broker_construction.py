"""``Broker(url=None, *, ...)`` chooses its log once, from its arguments: memory, Redis or the log given.

A keyword only another engine takes is refused with ``InvalidType`` naming it; the Redis log (and redis-py)
is imported only for a Redis URL, and without redis-py the error names the extra to install. Nothing here
needs a Redis server: a Redis log connects at its first call, not when it is made.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any, Dict

import pytest

import sse_fast
from sse_fast.broker.memory import MemoryLog
from sse_fast.errors import InvalidBrokerURL, InvalidType, MissingExtra

NOWHERE = "redis://127.0.0.1:1/0"  # a Redis URL nothing listens on: making the broker does not connect


def made(url: Any = None, **options: Any) -> sse_fast.Broker:
    """A broker, closed again (its log holds no thread until the first call)."""
    broker = sse_fast.Broker(url, **options)
    asyncio.run(broker.close())
    return broker


def test_no_url_runs_in_memory_with_the_memory_options() -> None:
    broker = made(history=7, max_age=30.0, max_bytes=4096)
    assert type(broker) is sse_fast.Broker and type(broker.log) is MemoryLog
    assert (broker.log.history, broker.log.max_age, broker.log.max_bytes) == (7, 30.0, 4096)


def test_a_redis_url_runs_on_redis_with_the_redis_options_and_the_same_class() -> None:
    from sse_fast.broker.redis import RedisLog

    broker = made(NOWHERE, history=9, timeout=0.5, max_backoff=0.1, prefix="p:")
    assert type(broker) is sse_fast.Broker and type(broker.log) is RedisLog
    assert (broker.log.url, broker.log.history, broker.log.timeout, broker.log.max_backoff) == (NOWHERE, 9, 0.5, 0.1)
    assert broker.log.prefix == "p:"
    defaults = made(NOWHERE).log
    assert (defaults.timeout, defaults.max_backoff, defaults.prefix) == (2.0, 2.0, "sse_fast:")


def test_a_log_given_is_the_log_used() -> None:
    log = MemoryLog(3)
    assert made(log=log).log is log


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        (
            None,
            {"timeout": 1.0, "prefix": "x:"},
            "Broker() without a URL runs in this process and takes no timeout, prefix (they are Redis options); "
            "got timeout=1.0, prefix='x:'",
        ),
        (
            None,
            {"max_backoff": 0.5},
            "Broker() without a URL runs in this process and takes no max_backoff (they are Redis options); "
            "got max_backoff=0.5",
        ),
        (
            "redis://:secret@127.0.0.1:1/0",
            {"max_age": 60.0},
            'Broker("redis://...") runs on Redis and takes no max_age (they bound the in-process log; on Redis '
            "history= bounds each topic); got max_age=60.0",
        ),
        (
            "unix:///tmp/redis.sock",
            {"max_bytes": 1024},
            'Broker("unix://...") runs on Redis and takes no max_bytes (they bound the in-process log; on Redis '
            "history= bounds each topic); got max_bytes=1024",
        ),
    ],
)
def test_a_keyword_of_the_other_engine_is_refused_by_name(url: Any, options: Dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidType) as info:
        sse_fast.Broker(url, **options)
    assert str(info.value) == message
    assert isinstance(info.value, TypeError)  # what Python raises for a keyword a function does not take


def test_a_log_given_takes_neither_engines_keywords_nor_a_url() -> None:
    with pytest.raises(InvalidType) as info:
        sse_fast.Broker(log=MemoryLog(), max_age=1.0, timeout=2.0)
    assert str(info.value) == (
        "Broker(log=...) runs on the log given and takes no max_age, timeout (that log has its own options); "
        "got max_age=1.0, timeout=2.0"
    )
    with pytest.raises(InvalidType, match=r"^Broker\(\) takes a URL or a log=, not both; got 'redis://"):
        sse_fast.Broker(NOWHERE, log=MemoryLog())


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", 6379, b"redis://x"])
def test_a_url_of_no_engine_is_refused(url: Any) -> None:
    with pytest.raises(InvalidBrokerURL) as info:
        sse_fast.Broker(url)
    assert str(info.value) == f"Broker() takes no URL (in-process), a redis:// or a redis+cluster:// URL, got {url!r}"


def test_the_in_process_broker_never_imports_redis() -> None:
    code = "import sys, sse_fast; sse_fast.Broker().publish_sync('t', 1); print('redis' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\n"


class _NoRedis:
    """A finder that finds no ``redis``, as on a machine where redis-py is not installed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name.split(".")[0] == "redis":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_a_redis_url_without_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sse_fast.broker.redis", raising=False)
    for name in [name for name in sys.modules if name == "redis" or name.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    # what an install without the extra gives: no module named redis (a None in sys.modules would not do on
    # Python 3.11, where importing redis.asyncio then says 'redis' is not a package, naming redis.asyncio)
    monkeypatch.setattr(sys, "meta_path", [_NoRedis(), *sys.meta_path])
    with pytest.raises(MissingExtra) as info:
        sse_fast.Broker(NOWHERE)
    assert info.value.name == "redis"
    assert str(info.value) == (
        'Broker("redis://...") needs redis, which is not installed: pip install "sse-fast[redis]"'
        ' (from a checkout: pip install ".[redis]")'
    )


def test_replicas_is_a_cluster_option() -> None:
    with pytest.raises(InvalidType, match=r"runs on one Redis and takes no replicas \(it is a Redis Cluster option\)"):
        sse_fast.Broker(NOWHERE, replicas=1)
    with pytest.raises(InvalidType, match=r"^Broker\(\) without a URL runs in this process and takes no replicas"):
        sse_fast.Broker(replicas=1)
