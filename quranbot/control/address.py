"""A Unix socket address for any path, however long.

`sun_path` holds 107 bytes, and a `--home` deep in a temporary directory easily passes that. For a
longer path the address goes through `/proc/self/fd/N/NAME`, N an O_PATH descriptor of the socket's
directory: the kernel resolves it to the same file, so server and client agree on one socket.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

SUN_PATH_MAX = 107


@contextlib.contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """An address for `path` that fits `sun_path`; valid inside the `with` block only."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)
