"""A real ``redis-server`` (Debian's) for the Redis broker tests: started on a free port in a temporary
directory with AOF on (so ``restart()`` after ``kill -9`` keeps the streams), stopped at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import Iterator, List, Optional

from support.ports import HOST, free_port

# Debian's; SSE_FAST_REDIS_SERVER=/path/to/valkey-server runs the same tests on another server
REDIS_SERVER = os.environ.get("SSE_FAST_REDIS_SERVER", "/usr/bin/redis-server")


def missing_reason() -> Optional[str]:
    """Why the Redis tests cannot run here, or None (they are skipped only when redis-server is absent)."""
    if not os.path.exists(REDIS_SERVER):
        return f"{REDIS_SERVER} is not installed (scripts/test.sh installs Debian's redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install -e '.[test]')"
    return None


class RedisServer:
    """One redis-server process; ``url`` reaches it (with the password when one is set)."""

    def __init__(self, directory: str, password: Optional[str] = None, persistence: bool = True) -> None:
        self.directory, self.password, self.persistence = directory, password, persistence
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}{HOST}:{self.port}/0"

    def command(self) -> List[str]:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST, "--dir", self.directory]
        if self.persistence:
            args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"]
        else:  # nothing survives a restart
            args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        return args + (["--requirepass", self.password] if self.password else [])

    def start(self, timeout: float = 10.0) -> None:
        log = open(os.path.join(self.directory, "redis.log"), "ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}: {self.log_tail()}")
            time.sleep(0.02)

    def ping(self) -> bool:
        """True once the server answers PING (``NOAUTH`` counts: it is up)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        return reply.startswith((b"+PONG", b"-NOAUTH"))

    def kill(self) -> None:
        """``kill -9``: no shutdown, no save; only what the AOF holds survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> None:
        """Kill -9 and start again on the same port and directory."""
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.directory, "redis.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")
        return ""


@contextlib.contextmanager
def redis_server(directory: str, password: Optional[str] = None, persistence: bool = True) -> Iterator[RedisServer]:
    """A started redis-server in ``directory`` (emptied first), stopped on exit; ``persistence=False``: no
    AOF and no snapshot, so a restart comes back empty."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    server = RedisServer(directory, password, persistence)
    server.start()
    try:
        yield server
    finally:
        server.stop()
