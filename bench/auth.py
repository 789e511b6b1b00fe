"""What a broker guard costs: admitting a subscriber, and delivering events to guarded subscribers.

    python bench/auth.py            # 5 interleaved rounds; 200 subscribers x 1,000 events per fan-out round
    python bench/auth.py --quick    # 2 rounds; 50 x 200

In process, on one event loop, subscribers on ``MemorySink`` writers (no sockets: what is measured is the
broker's own work). Admission: CPU per ``broker.subscriber(["/users/42"], None, request=scope)`` with no
guard, an app callable, ``JWTGuard`` HS256 and RS256 (the token is verified on every call). Fan-out: CPU per
delivered event, publishing to ``news`` with no guard, and with ``JWTGuard(public=["news"])`` where half the
subscribers' tokens cover ``news`` (so they also follow its private events) and a quarter of the events are
private. Best of the rounds; report only (fails only when a subscriber misses an event it should get).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, Callable, Dict, List, Optional

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import sse_fast
from sse_fast.auth import Credentials, Grant, JWTGuard
from sse_fast.testing import MemorySink

SECRET = "a-bench-secret-of-at-least-32-bytes!"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
CLAIMS = {"mercure": {"subscribe": ["/users/{id}", "news"]}}


def scope(token: Optional[str]) -> Dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return {"type": "http", "headers": headers, "query_string": b""}


def by_callable(credentials: Credentials) -> Optional[Grant]:
    return Grant(subscribe=["/users/{id}"]) if credentials.header("authorization") else None


def admission(calls: int) -> Dict[str, float]:
    """Microseconds of CPU per admitted subscribe, per guard."""
    hs = jwt.encode(CLAIMS, SECRET, algorithm="HS256")
    rs = jwt.encode(CLAIMS, KEY, algorithm="RS256")
    cases: Dict[str, Any] = {
        "no guard": (sse_fast.Broker(), scope(None)),
        "app callable": (sse_fast.Broker(guard=by_callable), scope("x")),
        "JWTGuard HS256": (sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"])), scope(hs)),
        "JWTGuard RS256": (sse_fast.Broker(guard=JWTGuard(PUBLIC, ["RS256"])), scope(rs)),
    }
    out = {}
    for name, (broker, request) in cases.items():
        start = time.process_time()
        for _ in range(calls):
            broker.subscriber(["/users/42"], None, request=request)
        out[name] = (time.process_time() - start) / calls * 1e6
    return out


async def fan_out(broker: sse_fast.Broker, subs: int, events: int, tokens: List[Optional[str]], private: bool) -> float:
    """Nanoseconds of CPU per delivered event."""
    sinks = [MemorySink() for _ in range(subs)]
    writers = [sse_fast.AsyncWriter(sink) for sink in sinks]
    tasks = [
        asyncio.ensure_future(w.run(broker.subscriber("news", None, request=scope(tokens[i % len(tokens)]))))
        for i, w in enumerate(writers)
    ]
    while broker.stats()["subscribers"] < subs:
        await asyncio.sleep(0.001)
    before = broker.stats()["delivered"]
    start = time.process_time()
    for i in range(events):
        await broker.publish("news", {"n": i, "text": "x" * 100}, private=private and i % 4 == 0)
    while any(w.buffered for w in writers):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    spent = time.process_time() - start
    delivered = broker.stats()["delivered"] - before
    for sink in sinks:
        sink.leave()
    await asyncio.gather(*tasks)
    covered = sum(1 for i in range(subs) if tokens[i % len(tokens)] is not None)
    expected = subs * events - (subs - covered) * (len(range(0, events, 4)) if private else 0)
    assert delivered == expected, (delivered, expected)
    await broker.close()
    return spent / delivered * 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, subs, events, calls = (2, 50, 200, 200) if args.quick else (5, 200, 1000, 2000)
    hs = jwt.encode(CLAIMS, SECRET, algorithm="HS256")
    runs: Dict[str, Callable[[], Any]] = {
        "no guard": lambda: fan_out(sse_fast.Broker(), subs, events, [None], False),
        "JWTGuard, public events": lambda: fan_out(
            sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"], public=["news"])), subs, events, [hs, None], False
        ),
        "JWTGuard, 1 in 4 private": lambda: fan_out(
            sse_fast.Broker(guard=JWTGuard(SECRET, ["HS256"], public=["news"])), subs, events, [hs, None], True
        ),
    }
    best_fan: Dict[str, float] = {}
    best_admit: Dict[str, float] = {}
    for _ in range(rounds):
        for name, value in admission(calls).items():
            best_admit[name] = min(best_admit.get(name, value), value)
        for name, run in runs.items():
            value = asyncio.run(run())
            best_fan[name] = min(best_fan.get(name, value), value)
    print(f"admission: CPU per subscribe, best of {rounds} rounds of {calls} calls")
    for name, value in best_admit.items():
        print(f"  {name:<26} {value:8.1f} us")
    print(f"fan-out: CPU per delivered event, {subs} subscribers x {events} events, best of {rounds} rounds")
    base = best_fan["no guard"]
    for name, value in best_fan.items():
        print(f"  {name:<26} {value:8.0f} ns   x{value / base:.2f} of no guard")


if __name__ == "__main__":
    main()
