"""docs/nginx.md's nginx block run as written, ports and certificate swapped: Debian's nginx in front of an app
on this machine, TLS (HTTP/2 and HTTP/1.1) to the client. Used by tests/production/test_nginx.py and bench/nginx.py."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from support.ports import HOST, free_port

PAGE = Path(__file__).resolve().parents[2] / "docs" / "nginx.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def documented_config() -> str:
    """The page's nginx block."""
    found = re.search(r"```nginx\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert found, "docs/nginx.md has no nginx block"
    return found.group(1)


def swap(text: str, old: str, new: str) -> str:
    assert old in text, f"docs/nginx.md's config no longer has {old!r}: update this test with it"
    return text.replace(old, new)


@contextlib.contextmanager
def nginx(app_port: int, read_timeout: str = "1h") -> Iterator[str]:
    """Run the page's config in front of ``app_port``; yields the https base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        tmp.chmod(0o755)  # the workers (nobody, when the test runs as root) write their temp files here
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        server = documented_config()
        server = swap(server, "server 127.0.0.1:8000;", f"server {HOST}:{app_port};")
        server = swap(server, "listen 443 ssl http2;", f"listen {HOST}:{port} ssl http2;")
        server = swap(server, "/etc/ssl/certs/example.com.pem", str(tmp / "cert.pem"))
        server = swap(server, "/etc/ssl/private/example.com.key", str(tmp / "key.pem"))
        server = swap(server, "proxy_read_timeout 1h;", f"proxy_read_timeout {read_timeout};")
        temp_paths = "".join(f"{name}_temp_path {tmp / name};\n" for name in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))  # fmt: skip
        (tmp / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
            f"events {{ worker_connections 64; }}\n"
            f"http {{\naccess_log off;\n{temp_paths}{server}}}\n"
        )
        process = subprocess.Popen([NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")])
        try:
            deadline = time.monotonic() + 10
            while True:
                assert process.poll() is None, f"nginx exited: {(tmp / 'error.log').read_text()}"
                with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
                    break
                assert time.monotonic() < deadline, "nginx did not listen within 10 s"
                time.sleep(0.02)
            yield f"https://{HOST}:{port}"
        finally:
            process.terminate()
            process.wait(10)
