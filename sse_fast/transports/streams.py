"""asyncio streams: the writer for a bare ``asyncio.start_server`` connection.

It writes the HTTP/1.1 response head itself, sends the body chunked (so the end of the stream is
explicit), waits on ``drain()`` for backpressure, and closes the connection when the stream ends.
With the connection's ``StreamReader`` it notices a client that leaves at once; without it, when
the connection is lost.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Optional

from ..errors import HTTPTransportFailed
from ..writer import AsyncWriter
from .base import Lost, Watcher
from .options import Options


class StreamSink:
    """Writes each batch as one HTTP chunk and waits for ``drain()``; ``end()`` writes the last chunk and
    closes the connection. It watches ``reader`` (or, without one, the connection) for the client leaving."""

    def __init__(self, stream: asyncio.StreamWriter, reader: Optional[asyncio.StreamReader]) -> None:
        self.stream = stream
        self._watcher = Watcher(_watch, stream, reader)

    def watch(self, lost: Lost) -> None:
        self._watcher.start(lost)

    async def send(self, data: bytes) -> None:
        if self.stream.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.stream.write(b"%x\r\n%b\r\n" % (len(data), data))
        await self.stream.drain()

    async def end(self) -> None:
        self._watcher.stop()
        try:
            if not self.stream.transport.is_closing():
                self.stream.write(b"0\r\n\r\n")
                await self.stream.drain()
        finally:
            self.stream.close()

    async def break_off(self, error: BaseException) -> None:
        """Close the connection without the last chunk once what was written has gone out, so the client can
        tell the failure from an end."""
        self._watcher.stop()
        self.stream.close()
        await self.stream.wait_closed()

    def abort(self) -> None:
        self._watcher.stop()
        self.stream.transport.abort()


def response_head(options: Options) -> bytes:
    """The HTTP/1.1 status line and headers of a chunked SSE response."""
    try:
        phrase = HTTPStatus(options.status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {options.status} {phrase}"]
    lines += [f"{name}: {value}" for name, value in options.header_pairs("1.1", hop_by_hop=True)]
    lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def open_stream(
    stream: asyncio.StreamWriter, reader: Optional[asyncio.StreamReader], options: Options
) -> AsyncWriter:
    """Write the response head on ``stream`` and return its writer.

    Pass the connection's ``reader`` (after the request has been read from it) to notice at once a
    client that leaves; the rest of what it sends is discarded.
    """
    if stream.transport.is_closing():
        raise HTTPTransportFailed(f"new_writer() got {stream!r}, whose connection is already closing")
    stream.write(response_head(options))
    return AsyncWriter(StreamSink(stream, reader), send_timeout=options.send_timeout, default=options.default)


async def _watch(stream: asyncio.StreamWriter, reader: Optional[asyncio.StreamReader], lost: Lost) -> None:
    """Wait for the connection's end (the client's EOF, with ``reader``), then call ``lost()``."""
    try:
        if reader is None:
            await stream.wait_closed()
        else:
            while await reader.read(65536):
                pass
    except (OSError, asyncio.IncompleteReadError):
        pass
    lost()
