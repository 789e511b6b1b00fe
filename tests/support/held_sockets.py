"""Whether a server process (or one of its children) still holds the TCP connection of a given client."""

from __future__ import annotations

import os
from pathlib import Path


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it (gunicorn's and granian's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _inodes_to(pid: int, client_port: int) -> set[str]:
    """Socket inodes of ``pid``'s network namespace whose remote end is 127.0.0.1:``client_port``."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()  # sl, local address, remote address, state, ..., inode (the tenth)
            if fields[2].endswith(f":{client_port:04X}") and fields[2].split(":")[0].endswith("0100007F"):
                inodes.add(fields[9])
    return inodes


def holds(pid: int, client_port: int) -> bool:
    """True while a process of ``pid``'s tree has an open file descriptor on its connection to the client
    whose local port is ``client_port``."""
    inodes = _inodes_to(pid, client_port)
    if not inodes:
        return False
    for process in _tree(pid):
        try:
            fds = os.listdir(f"/proc/{process}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{process}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    return False
