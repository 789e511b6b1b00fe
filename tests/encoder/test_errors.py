"""The error hierarchy: every error is an SSEError, and each also is the builtin it is most like."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import List

import pytest

import sse_fast
from sse_fast import errors
from sse_fast.broker import Broker, MemoryLog
from sse_fast.context import ended
from sse_fast.integrations._source import handler_for

ALL = [
    sse_fast.InvalidValue,
    sse_fast.InvalidUTF8,
    sse_fast.InvalidType,
    sse_fast.NotJSONSerializable,
    sse_fast.TransportNotFound,
    sse_fast.NotHTTP,
    sse_fast.HTTPTransportFailed,
    sse_fast.StreamingNotSupported,
    sse_fast.ClientDisconnected,
    sse_fast.SendTimedOut,
    sse_fast.StreamClosed,
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
    sse_fast.MissingExtra,
    sse_fast.Refused,
    sse_fast.Unauthorized,
    sse_fast.Forbidden,
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


# each error that replaced a builtin is still that builtin, so `except ValueError` / `except TypeError` /
# `except ClientDisconnected` written before it keep catching it
BUILTIN = [
    (sse_fast.InvalidValue, ValueError),
    (sse_fast.InvalidUTF8, sse_fast.InvalidValue),
    (sse_fast.InvalidTopic, sse_fast.InvalidValue),
    (sse_fast.InvalidEventId, sse_fast.InvalidValue),
    (sse_fast.InvalidBrokerURL, sse_fast.InvalidValue),
    (sse_fast.InvalidType, TypeError),
    (sse_fast.NotJSONSerializable, TypeError),
    (sse_fast.MissingExtra, ModuleNotFoundError),
    (sse_fast.SendTimedOut, sse_fast.ClientDisconnected),
    (sse_fast.StreamClosed, sse_fast.ClientDisconnected),
]


@pytest.mark.parametrize(("error", "builtin"), BUILTIN, ids=lambda e: e.__name__)
def test_each_error_is_still_caught_as_what_it_replaced(error, builtin):
    with pytest.raises(builtin):
        raise error("boom")


def test_a_value_error_is_no_type_error_and_the_reverse():
    assert not issubclass(sse_fast.InvalidValue, TypeError)
    assert not issubclass(sse_fast.InvalidType, ValueError)
    assert not issubclass(sse_fast.NotJSONSerializable, sse_fast.InvalidType)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (sse_fast.ClientDisconnected, "client_disconnected"),
        (sse_fast.SendTimedOut, "send_timeout"),
        (sse_fast.StreamClosed, "closed"),
    ],
)
def test_a_disconnect_error_has_a_reason_of_its_own(error, reason):
    assert error("boom").reason == reason


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("client_disconnected", sse_fast.ClientDisconnected),
        ("send_timeout", sse_fast.SendTimedOut),
        ("closed", sse_fast.StreamClosed),
        ("shutdown", sse_fast.StreamClosed),
        ("slow", sse_fast.StreamClosed),
        ("anything abort() was given", sse_fast.StreamClosed),
    ],
)
def test_a_stream_that_ended_raises_the_error_its_reason_names(reason, error):
    exc = ended(reason, "cannot write")
    assert type(exc) is error
    assert exc.reason == reason
    assert str(exc) == f"cannot write (reason: {reason})"


def test_every_public_error_is_exported():
    defined = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert defined == {"SSEError", *(e.__name__ for e in ALL)}
    assert defined <= set(sse_fast.__all__)


def test_the_tree_in_the_docstring_is_the_hierarchy():
    lines = [line for line in (errors.__doc__ or "").splitlines() if "──" in line or line.strip() == "SSEError"]
    left = lines[0].index("SSEError")
    branch: List[type] = []  # the classes the current line hangs from
    drawn = set()
    for line in lines:
        at = re.search(r"\w", line).start()
        del branch[(at - left) // 4 :]
        names, _, builtins = line[at:].split("   ")[0].partition(" (")
        for name in names.split(", "):
            cls = getattr(errors, name)
            assert all(issubclass(cls, parent) for parent in branch), line
            for builtin in builtins.rstrip(")").split(", ") if builtins not in ("", "above)") else []:
                assert issubclass(cls, getattr(errors, builtin, None) or getattr(__import__("builtins"), builtin)), line
            drawn.add(name)
        branch.append(cls)
    assert drawn == {"SSEError", *(e.__name__ for e in ALL)}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: handler_for(5),
            sse_fast.InvalidType,
            "expected a handler(writer) or an iterable of events, got int: 5",
        ),
        (lambda: MemoryLog(history=-1), sse_fast.InvalidValue, "history must be an int >= 0, got -1"),
        (
            lambda: sse_fast.WSGIResponse(lambda writer: None, headers=5),
            sse_fast.InvalidType,
            "headers must be None, a mapping or (name, value) pairs, got int",
        ),
        (
            lambda: sse_fast.ASGIResponse(lambda writer: None, headers=[("X-App",)]),
            sse_fast.InvalidType,
            "headers must be (name, value) pairs with a str name, got ('X-App',) among them",
        ),
        (
            lambda: sse_fast.ASGIResponse("x"),
            sse_fast.InvalidType,
            "ASGIResponse expects a handler, async def handler(writer); got str 'x'",
        ),
        (
            lambda: sse_fast.WSGIResponse(None),
            sse_fast.InvalidType,
            "WSGIResponse expects a handler, def handler(writer); got NoneType None",
        ),
        (
            lambda: Broker(queue_bytes="x"),
            sse_fast.InvalidType,
            "queue_bytes must be an int of bytes >= 1, got str 'x'",
        ),
        (lambda: Broker(queue_bytes=0), sse_fast.InvalidValue, "queue_bytes must be an int of bytes >= 1, got int 0"),
    ],
    ids=[
        "handler_for",
        "MemoryLog",
        "headers-int",
        "headers-pair",
        "ASGIResponse",
        "WSGIResponse",
        "queue_bytes-str",
        "queue_bytes-0",
    ],
)
def test_option_checks_raise_the_sse_error_for_what_was_wrong(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value) == message


# A meta-path finder that hides the packages named in argv[1] (comma-separated) as if they were not
# installed, then imports the module argv[2] and prints how that failed.
HIDE_AND_IMPORT = """
import importlib, sys
hidden = set(sys.argv[1].split(","))

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Hide())
try:
    importlib.import_module(sys.argv[2])
except ImportError as error:
    import sse_fast
    print(type(error).__name__, isinstance(error, sse_fast.SSEError), error.name)
    print(error)
else:
    print("imported")
"""


@pytest.mark.parametrize(
    ("integration", "hidden", "extra"),
    [
        ("flask", "flask", "flask"),
        ("django", "django", "django"),
        ("aiohttp", "aiohttp", "aiohttp"),
        ("fastapi", "fastapi", "fastapi"),
        ("fastapi_sse", "fastapi", "fastapi"),
        ("starlette", "starlette,fastapi", "fastapi"),
    ],
)
def test_an_integration_without_its_framework_names_the_extra(integration: str, hidden: str, extra: str) -> None:
    module = f"sse_fast.integrations.{integration}"
    done = subprocess.run(
        [sys.executable, "-c", HIDE_AND_IMPORT, hidden, module], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    kind, message = done.stdout.splitlines()
    assert kind == f"MissingExtra True {hidden.split(',')[0]}"
    assert message == (
        f'{module} needs {hidden.split(",")[0]}, which is not installed: pip install "sse-fast[{extra}]"'
        f' (from a checkout: pip install ".[{extra}]")'
    )


def test_a_module_missing_inside_the_framework_is_not_called_the_framework_missing() -> None:
    # flask is there; one of its own imports is not: that is flask's error, not a missing extra
    done = subprocess.run(
        [sys.executable, "-c", HIDE_AND_IMPORT, "werkzeug", "sse_fast.integrations.flask"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "ModuleNotFoundError False werkzeug"
