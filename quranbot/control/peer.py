"""Who is on the other end of the control socket (SO_PEERCRED), and may they use it?

The socket file is mode 0660, which already keeps other users out; checking the peer as well means a
mistaken chmod or a directory with looser rights still cannot hand the bot's controls to anyone.
Allowed: root, the bot's own user, and members of the bot's group.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

_UCRED = struct.Struct("3i")  # pid, uid, gid


@dataclass(frozen=True)
class Peer:
    pid: int
    uid: int
    gid: int

    def describe(self) -> str:
        return f"pid {self.pid}, uid {self.uid}"


def peer_of(sock: socket.socket) -> Peer:
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    return Peer(pid, uid, gid)


def supplementary_groups(pid: int) -> set[int]:
    """The peer's groups from /proc (empty if the process is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return {int(group) for group in line.split()[1:]}
    except OSError:
        pass
    return set()


def may_control(peer: Peer, uid: int | None = None, gid: int | None = None) -> bool:
    """Root, the bot's user, or a member of the bot's group (primary or supplementary)."""
    uid = os.geteuid() if uid is None else uid
    gid = os.getegid() if gid is None else gid
    if peer.uid in (0, uid) or peer.gid == gid:
        return True
    return gid in supplementary_groups(peer.pid)
