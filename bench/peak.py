"""Run a command and print its wall time and peak resident memory (its own and its children's).

    python bench/peak.py retrieval build data/synthetic-1000000/train.jsonl --out indexes/synthetic-1m ...

For figures such as "a million documents built in N minutes within M GB": the command's own output
passes through; the last line is ``peak: W s wall, M MB peak RSS, exit E``.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    started = time.perf_counter()
    code = subprocess.call(sys.argv[1:])
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak: {wall:.1f} s wall, {peak_mb:,.0f} MB peak RSS, exit {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
