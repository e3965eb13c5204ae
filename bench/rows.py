"""Where benchmark rows go: one JSON object per line in ``bench/results/NAME.jsonl``, appended, never rewritten."""

from __future__ import annotations

import json
from pathlib import Path


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
