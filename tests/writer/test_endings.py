"""How a stream ends: one vocabulary (``sse_fast.Ending``) and one place that builds the error a write raises
after each reason (``sse_fast._endings``), used by the writer, the broker, the relay and the errors."""

from __future__ import annotations

import asyncio

import pytest

import sse_fast
from sse_fast import relay
from sse_fast._endings import Ending, ended, error_for, send_failed
from sse_fast.broker import core
from sse_fast.testing import MemorySink, ThreadSink

DOCUMENTED = {
    "CLIENT_DISCONNECTED": "client_disconnected",
    "SEND_TIMEOUT": "send_timeout",
    "CLOSED": "closed",
    "SHUTDOWN": "shutdown",
    "ERROR": "error",
    "SLOW": "slow",
    "UPSTREAM_ENDED": "upstream_ended",
    "UPSTREAM_LOST": "upstream_lost",
}


def test_each_reason_is_its_documented_string() -> None:
    assert {member.name: member.value for member in Ending} == DOCUMENTED
    for member in Ending:
        assert member == member.value and isinstance(member, str)
        assert str(member) == f"{member}" == f"{member:>0}" == member.value  # prints as the string, not Ending.X
        assert {member: True}[member.value] and hash(member) == hash(member.value)  # one key with its string
    assert sse_fast.Ending is Ending


def test_each_error_class_holds_its_own_reason() -> None:
    assert sse_fast.ClientDisconnected.reason == Ending.CLIENT_DISCONNECTED
    assert sse_fast.SendTimedOut.reason == Ending.SEND_TIMEOUT
    assert sse_fast.StreamClosed.reason == Ending.CLOSED


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        (Ending.CLIENT_DISCONNECTED, sse_fast.ClientDisconnected),
        (Ending.SEND_TIMEOUT, sse_fast.SendTimedOut),
        (Ending.CLOSED, sse_fast.StreamClosed),
        (Ending.SHUTDOWN, sse_fast.StreamClosed),
        (Ending.ERROR, sse_fast.StreamClosed),
        (Ending.SLOW, sse_fast.StreamClosed),
        ("a reason abort() was given", sse_fast.StreamClosed),
    ],
)
def test_the_error_for_a_reason_is_built_in_one_place(reason: str, error: type) -> None:
    assert error_for(reason) is error
    exc = ended(reason, "cannot write: gone")
    assert type(exc) is error and exc.reason == reason
    assert str(exc) == f"cannot write: gone (reason: {reason})"
    assert str(exc) == f"cannot write: gone (reason: {str(reason)})"


def test_the_broker_and_the_relay_speak_the_same_words() -> None:
    assert core.SLOW is Ending.SLOW
    assert relay.UPSTREAM_ENDED is Ending.UPSTREAM_ENDED and relay.UPSTREAM_LOST is Ending.UPSTREAM_LOST


def test_a_context_ended_by_the_writer_holds_an_ending() -> None:
    async def body() -> None:
        sink = MemorySink()
        writer = sse_fast.AsyncWriter(sink)
        await writer.close()
        assert writer.context.reason is Ending.CLOSED and writer.context.reason == "closed"
        with pytest.raises(sse_fast.StreamClosed) as info:
            await writer.write_event(1)
        assert info.value.reason is Ending.CLOSED
        assert str(info.value) == "cannot write: the stream was closed on the server side (reason: closed)"

    asyncio.run(body())


FAILURES = [
    (OSError("connection reset"), "the client left (connection reset)"),
    (RuntimeError("boom"), "the transport failed (RuntimeError: boom)"),
]


@pytest.mark.parametrize(("failure", "why"), FAILURES)
def test_a_failed_send_ends_the_stream_with_the_text_of_endings(sender: object, failure: Exception, why: str) -> None:
    async def body() -> None:
        sink = MemorySink()
        sink.resume()
        sink.fail(failure)
        writer = sse_fast.AsyncWriter(sink)
        with pytest.raises(sse_fast.ClientDisconnected) as info:
            await writer.write_event(1)
        assert writer.context.reason is Ending.CLIENT_DISCONNECTED
        assert str(info.value) == f"{why} (reason: client_disconnected)"
        assert str(info.value) == str(ended(Ending.CLIENT_DISCONNECTED, send_failed(failure)))
        assert info.value.__cause__ is failure

    asyncio.run(body())


def test_the_sync_writer_says_the_same_when_the_client_left() -> None:
    failure, why = FAILURES[0]
    sink = ThreadSink()
    sink.resume()
    sink.fail(failure)
    writer = sse_fast.Writer(sink)
    with pytest.raises(sse_fast.ClientDisconnected) as info:
        writer.write_event(1)
    assert writer.context.reason is Ending.CLIENT_DISCONNECTED
    assert str(info.value) == f"{why} (reason: client_disconnected)" and info.value.__cause__ is failure
