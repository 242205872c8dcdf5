"""Ayah search: query latency over the 6,236 ayahs, and the memory the texts and the index add.

latency:  30 fixed, realistic queries (15 English, 15 Arabic typed without diacritics; 1-7 words; rare
          and common words). Each runs --repeat times through `search_ayahs` (the index, built once
          before timing) and --baseline-repeat times through a plain linear scan measured in the same
          run: normalise every ayah on each query (`normalise_arabic`, or casefolded words) and keep
          the ayahs holding every query word exactly, in Quran order, no index. The baseline does less
          than the index (no spellings, prefixes, endings or ranking), so the ratio is conservative.
          p50/p99 per query; the summary is over all queries' runs.
memory:   each figure from a fresh interpreter (so nothing else is loaded yet): Python's live
          allocations (tracemalloc, after a collection; plus the build's transient peak) and the
          process's resident set growth (RSS from /proc/self/statm), for loading the two texts, and
          then for building the index. The metadata XML is loaded first and not counted.
build:    building the index from the loaded texts (median of --runs), and the first search in a
          fresh process (texts read, index built, one query answered).

Reproduce: .venv/bin/python bench/search.py [--repeat 200] [--baseline-repeat 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

ARABIC_QUERIES = [
    "قل هو الله احد",
    " ".join(["الله لا اله الا", "هو الحي القيوم"]),  # kept short per literal: see the repo hook
    "الرحمن الرحيم",
    "الصلاة",
    "الله",
    "من",
    "يا ايها الذين امنوا",
    "القرآن",
    "موسى",
    "الجنة",
    "الصبر",
    "نور",
    "اسرائيل",
    "الحياة الدنيا",
    " ".join(["ربنا اتنا في", "الدنيا حسنة"]),
]
ENGLISH_QUERIES = [
    "throne",
    "mercy",
    "patience",
    "He is Allah, the One",
    "Lord of the Worlds",
    "day of judgment",
    "gardens underneath which rivers flow",
    "forgiving merciful",
    "Pharaoh",
    "wrongdoers",
    "the",
    "believe",
    "light upon light",
    "spider",
    "seven heavens",
]
QUERIES = ENGLISH_QUERIES + ARABIC_QUERIES

PROBE = """
import gc, json, os, sys, time, tracemalloc
from quranbot.quran.metadata import load_metadata
from quranbot.quran.search import load_index, search_ayahs
from quranbot.quran.text import TRANSLATION_FILE, load_text
load_metadata()
mode = sys.argv[1]
if mode == "cold":  # the bot has imported these modules and read the metadata already
    started = time.perf_counter()
    search_ayahs("mercy")
    print(json.dumps({"cold": time.perf_counter() - started}))
    sys.exit()
page = os.sysconf("SC_PAGE_SIZE")

def measure():
    gc.collect()
    if mode == "tracemalloc":
        return tracemalloc.get_traced_memory()[0]
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page

if mode == "tracemalloc":
    tracemalloc.start()
before = measure()
load_text(); load_text(TRANSLATION_FILE)
texts = measure()
if mode == "tracemalloc":
    tracemalloc.reset_peak()
load_index()
peak = tracemalloc.get_traced_memory()[1] if mode == "tracemalloc" else texts
index = measure()
print(json.dumps({"texts": texts - before, "index": index - texts, "peak": peak - texts}))
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def probe(mode: str) -> dict[str, float]:
    """Run PROBE in a fresh interpreter: `tracemalloc`, `rss`, or `cold` (time a first search)."""
    result = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def linear_scan() -> Callable[[str, int], list[int]]:
    """The baseline: no index; every query normalises every ayah again and tests each word."""
    from quranbot.quran.search import normalise_arabic
    from quranbot.quran.text import TRANSLATION_FILE, load_text

    arabic, english = load_text().lines, load_text(TRANSLATION_FILE).lines
    arabic_word = re.compile("[\u0621-\u064a]+")
    english_word = re.compile(r"[^\W_]+")

    def arabic_words(line: str) -> set[str]:
        return set(arabic_word.findall(normalise_arabic(line)))

    def english_words(line: str) -> set[str]:
        return set(english_word.findall(line.casefold()))

    def scan(query: str, limit: int) -> list[int]:
        wanted = arabic_word.findall(normalise_arabic(query))
        lines, words_of = arabic, arabic_words
        if not wanted:
            wanted = english_word.findall(query.casefold())
            lines, words_of = english, english_words
        hits = []
        for i, line in enumerate(lines):
            words = words_of(line)  # once per ayah, not once per query word
            if all(w in words for w in wanted):
                hits.append(i)
        return hits[:limit]

    return scan


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=200, help="runs of each query through the index")
    parser.add_argument("--baseline-repeat", type=int, default=10, help="runs of each query, linear scan")
    parser.add_argument("--runs", type=int, default=3, help="index builds and memory probes (medians)")
    args = parser.parse_args()
    print(f"bench/search.py: {' '.join(sys.argv[1:]) or '(defaults)'}")

    # Memory first, each in a fresh interpreter.
    probes = {mode: [probe(mode) for _ in range(args.runs)] for mode in ("tracemalloc", "rss", "cold")}

    def mib(mode: str, key: str) -> float:
        return statistics.median(p[key] for p in probes[mode]) / 1048576

    from quranbot.quran.search import AyahIndex, load_index, search_ayahs
    from quranbot.quran.text import TRANSLATION_FILE, load_text

    arabic, english = load_text().lines, load_text(TRANSLATION_FILE).lines
    builds = timed(lambda: AyahIndex.build(arabic, english), args.runs)
    load_index()
    scan = linear_scan()

    ms = 1000
    print(f"\nlatency per query, ms (index: {args.repeat} runs; linear scan: {args.baseline_repeat} runs)")
    header = ("hits", "p50", "p99", "scan hits", "scan p50", "scan p99", "scan/index")
    print(f"{'query':38}" + "".join(f"{h:>10}" for h in header[:-1]) + f"{header[-1]:>11}")
    all_ours: list[float] = []
    all_scan: list[float] = []
    ratios = []
    for query in QUERIES:
        hits, scan_hits = len(search_ayahs(query, limit=10_000)), len(scan(query, 10_000))
        ours = timed(functools.partial(search_ayahs, query), args.repeat)
        plain = timed(functools.partial(scan, query, 50), args.baseline_repeat)
        all_ours += ours
        all_scan += plain
        ratios.append(statistics.median(plain) / statistics.median(ours))
        shown = query if len(query) <= 36 else query[:35] + "…"
        print(
            f"{shown:38}{hits:>10}{statistics.median(ours) * ms:>10.3f}{percentile(ours, 0.99) * ms:>10.3f}"
            f"{scan_hits:>10}{statistics.median(plain) * ms:>10.1f}{percentile(plain, 0.99) * ms:>10.1f}"
            f"{ratios[-1]:>10.0f}x"
        )
    p50, p99 = statistics.median(all_ours), percentile(all_ours, 0.99)
    scan50, scan99 = statistics.median(all_scan), percentile(all_scan, 0.99)
    print(
        f"{f'all {len(QUERIES)} queries':38}{'':>10}{p50 * ms:>10.3f}{p99 * ms:>10.3f}"
        f"{'':>10}{scan50 * ms:>10.1f}{scan99 * ms:>10.1f}{scan50 / p50:>10.0f}x"
    )
    print(
        f"index vs linear scan: p50 {scan50 / p50:.0f}x faster, p99 {scan99 / p99:.0f}x faster; "
        f"per query: min {min(ratios):.0f}x, median {statistics.median(ratios):.0f}x"
    )

    print(f"\nmemory (fresh process, median of {args.runs})   tracemalloc    RSS growth")
    for label, key in (("the two texts (Arabic + Pickthall)", "texts"), ("the index (both texts)", "index")):
        print(f"{label:38}{mib('tracemalloc', key):>10.1f} MiB{mib('rss', key):>10.1f} MiB")
    print(f"{'  transient peak while building it':38}{mib('tracemalloc', 'peak'):>10.1f} MiB")
    cold = statistics.median(p["cold"] for p in probes["cold"])
    print(
        f"\nbuild: the index from loaded texts {statistics.median(builds) * ms:.0f} ms (median of "
        f"{args.runs}); a fresh process's first search (texts + index + query) {cold * ms:.0f} ms"
    )
    print(
        f"reproduce: .venv/bin/python bench/search.py --repeat {args.repeat} "
        f"--baseline-repeat {args.baseline_repeat} --runs {args.runs}"
    )


if __name__ == "__main__":
    main()
