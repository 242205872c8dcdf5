"""One process's wall clock, stepped by the soak as NTP would step it: the small C shim beside this
file (wallclock.c) is built with the machine's C compiler and preloaded into the bot, and `WallClock`
writes the offset it reads.

Only the wall clock moves; the monotonic clocks every sleep and deadline use do not, which is what a
real NTP step does and what libfaketime could not do here (see wallclock.c).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("wallclock.c")
#: The variable the shim reads the offset file's path from.
OFFSET_VARIABLE = "QURANBOT_WALLCLOCK_OFFSET"


class ShimUnavailable(RuntimeError):
    """The shim cannot be built here; the message says why (shown as the fault's reason left out)."""


def build_shim(directory: Path) -> Path:
    """Compile the shim into `directory` and return the library's path."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise ShimUnavailable("needs a C compiler (gcc) to build the wall-clock shim")
    directory.mkdir(parents=True, exist_ok=True)
    library = directory / "wallclock.so"
    done = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ShimUnavailable(f"the wall-clock shim did not build: {done.stderr.strip()[:300]}")
    return library


class WallClock:
    """The offset file a preloaded process's wall clock follows, and the environment that preloads it."""

    def __init__(self, library: Path, offset_file: Path) -> None:
        self.library = library
        self.offset_file = offset_file
        self.offset = 0
        # Created at its full size before any process maps it; later writes go into the same inode.
        offset_file.write_bytes(struct.pack("<q", 0))

    def environment(self) -> dict[str, str]:
        preload = " ".join(p for p in (str(self.library), os.environ.get("LD_PRELOAD", "")) if p)
        return {"LD_PRELOAD": preload, OFFSET_VARIABLE: str(self.offset_file)}

    def step(self, seconds: int) -> None:
        """Move the wall clock by `seconds` (negative: back), at once, for every process preloaded."""
        self.offset += seconds
        with open(self.offset_file, "r+b") as mapped:
            mapped.write(struct.pack("<q", self.offset))
