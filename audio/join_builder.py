"""Where track joins are built (`join.py`): one thread for every player in the process, and a memory of
the last few.

A join is ~2 ms of decoding and encoding. A thread per boundary made 300 threads at once when 300 guilds
that started together crossed the same boundary together (they play the same reciter's same surahs, so
they stay in step for good); one thread serves them in turn. And since a join depends only on the two
files and the bitrate, it is built once for all of them: the rest are taken from memory. Without that,
the burst of work held the GIL and the cores the audio pacer needed, and a tick ran up to 100 ms late.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from quranbot.audio.join import Join

#: Joins remembered (a few hundred bytes each): every boundary of a whole-surah reciter is 114.
CACHE_SIZE = 512

JoinKey = tuple[Path, Path, int]


class JoinBuilder:
    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="track joins")
        self._lock = threading.Lock()
        self._cache: OrderedDict[JoinKey, Join | None] = OrderedDict()
        self._cache_size = cache_size
        self.built = 0
        self.remembered = 0

    def submit(self, work: Callable[[], None]) -> Future[None]:
        """Run `work` on the join thread (RuntimeError once shut down)."""
        return self._executor.submit(work)

    def recall(self, key: JoinKey) -> tuple[bool, Join | None]:
        """(True, the join) if it was built before (None: those two files cannot be joined)."""
        with self._lock:
            if key not in self._cache:
                return False, None
            self._cache.move_to_end(key)
            self.remembered += 1
            return True, self._cache[key]

    def remember(self, key: JoinKey, join: Join | None) -> None:
        with self._lock:
            self.built += 1
            self._cache[key] = join
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def shutdown(self, wait: bool) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
