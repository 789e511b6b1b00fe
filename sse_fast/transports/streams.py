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

from ..context import CLIENT_DISCONNECTED
from ..errors import HTTPTransportFailed
from ..writer import DEFAULT_SEND_TIMEOUT, AsyncWriter, Default
from .headers import Headers, sse_headers


class StreamSink:
    """Writes each batch as one HTTP chunk and waits for ``drain()``."""

    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self.stream = stream
        self.watcher: Optional[asyncio.Task[None]] = None

    async def send(self, data: bytes) -> None:
        if self.stream.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.stream.write(b"%x\r\n%b\r\n" % (len(data), data))
        await self.stream.drain()

    async def end(self) -> None:
        self._stop_watching()
        try:
            if not self.stream.transport.is_closing():
                self.stream.write(b"0\r\n\r\n")
                await self.stream.drain()
        finally:
            self.stream.close()

    def abort(self) -> None:
        self._stop_watching()
        self.stream.transport.abort()

    def _stop_watching(self) -> None:
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()


def response_head(status: int, headers: Headers) -> bytes:
    """The HTTP/1.1 status line and headers of a chunked SSE response."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines += [f"{name}: {value}" for name, value in sse_headers("1.1", headers)]
    lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def open_stream(
    stream: asyncio.StreamWriter,
    reader: Optional[asyncio.StreamReader] = None,
    *,
    status: int = 200,
    headers: Headers = None,
    send_timeout: Optional[float] = DEFAULT_SEND_TIMEOUT,
    default: Default = None,
) -> AsyncWriter:
    """Write the response head on ``stream`` and return its writer.

    Pass the connection's ``reader`` (after the request has been read from it) to notice at once a
    client that leaves; the rest of what it sends is discarded.
    """
    if stream.transport.is_closing():
        raise HTTPTransportFailed(f"new_writer() got {stream!r}, whose connection is already closing")
    sink = StreamSink(stream)
    writer = AsyncWriter(sink, send_timeout=send_timeout, default=default)
    stream.write(response_head(status, headers))
    sink.watcher = asyncio.get_running_loop().create_task(_watch(stream, reader, writer))
    return writer


async def _watch(
    stream: asyncio.StreamWriter, reader: Optional[asyncio.StreamReader], writer: AsyncWriter
) -> None:
    try:
        if reader is None:
            await stream.wait_closed()
        else:
            while await reader.read(65536):
                pass
    except (OSError, asyncio.IncompleteReadError):
        pass
    writer.lost(CLIENT_DISCONNECTED)
