"""The error hierarchy: every error is an SSEError, and each also is the builtin it is most like."""

from __future__ import annotations

import pytest

import sse_fast
from sse_fast import errors

ALL = [
    sse_fast.TransportNotFound,
    sse_fast.NotHTTP,
    sse_fast.HTTPTransportFailed,
    sse_fast.StreamingNotSupported,
    sse_fast.ClientDisconnected,
    sse_fast.StreamTooLarge,
    sse_fast.LineTooLong,
    sse_fast.EventTooLarge,
    sse_fast.StreamRefused,
    sse_fast.BrokerError,
    sse_fast.BrokerClosed,
    sse_fast.InvalidTopic,
    sse_fast.InvalidEventId,
    sse_fast.InvalidBrokerURL,
    sse_fast.BrokerUnavailable,
]


@pytest.mark.parametrize("error", ALL, ids=lambda e: e.__name__)
def test_every_error_is_an_sse_error(error):
    assert issubclass(error, sse_fast.SSEError)
    with pytest.raises(sse_fast.SSEError):
        raise error("boom")


def test_sse_error_is_an_exception():
    assert issubclass(sse_fast.SSEError, Exception)
    assert sse_fast.SSEError is errors.SSEError


def test_client_disconnected_is_a_connection_error():
    assert issubclass(sse_fast.ClientDisconnected, ConnectionError)
    with pytest.raises(ConnectionError):
        raise sse_fast.ClientDisconnected("client left")


def test_transport_not_found_is_a_type_error():
    assert issubclass(sse_fast.TransportNotFound, TypeError)
    with pytest.raises(TypeError):
        raise sse_fast.TransportNotFound("got int, expected an ASGI scope")


def test_not_http_is_a_value_error():
    assert issubclass(sse_fast.NotHTTP, ValueError)


def test_every_public_error_is_exported():
    defined = {
        name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)
    }
    assert defined == {"SSEError", *(e.__name__ for e in ALL)}
    assert defined <= set(sse_fast.__all__)
