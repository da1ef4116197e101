"""Which TCP connections a process holds, from Linux's /proc: how the nemesis tells a node's outgoing peer
connections (by their local port) from the others' at a fault proxy, to cut a node off both ways."""

from __future__ import annotations

import os
from pathlib import Path

_SOCKET_LINK = "socket:["


def local_tcp_ports(pid: int) -> set[int]:
    """The local ports of the TCP sockets process `pid` holds (empty once it has exited)."""
    inodes = {link[len(_SOCKET_LINK) : -1] for link in _fd_links(pid) if link.startswith(_SOCKET_LINK)}
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            fields = row.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _fd_links(pid: int) -> list[str]:
    """What each open file descriptor of `pid` points to; one closed meanwhile is skipped."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return []
    links = []
    for descriptor in descriptors:
        try:
            links.append(os.readlink(descriptor))
        except FileNotFoundError:
            continue
    return links
