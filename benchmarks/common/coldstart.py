"""Child process for one backend: prints when its first prediction is done, then its peak RSS.

Run by speed.py so that import and load time count from a fresh interpreter, as a user sees.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def main() -> None:
    name, model_dir, bundle, threads, reviews = sys.argv[1:6]
    from benchmarks.common import backends
    from senticlf import data

    backend = backends.make(name, Path(model_dir), Path(bundle), int(threads))
    texts = [review.text for review in data.read_table(Path(reviews))]
    backend.positive(texts[:1])
    print("first-prediction", flush=True)
    for start in range(0, len(texts), 32):
        backend.positive(texts[start : start + 32])
    print(f"peak-rss-kb {peak_rss_kb()}", flush=True)


def peak_rss_kb() -> int:
    """VmHWM: unlike ru_maxrss, it starts afresh at exec instead of inheriting the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
