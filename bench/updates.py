"""`add` and `remove` on a copy of a saved text index: seconds for each step and the vocabulary's coverage.

    python bench/updates.py indexes/20newsgroups [--queries data/20newsgroups/test.jsonl] [--remove 1000]

Adds every document of ``--queries`` (ids already present are skipped) to a copy of the index, saves it
(the atomic swap), removes ``--remove`` of them, saves again, and checks that each added document is
found first by its own text. Rows go to ``bench/results/updates.jsonl``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "updates.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, nargs="?", default=ROOT / "indexes" / "20newsgroups")
    parser.add_argument("--queries", type=Path, default=ROOT / "data" / "20newsgroups" / "test.jsonl")
    parser.add_argument("--remove", type=int, default=1000)
    args = parser.parse_args()
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex

    new, _ = read_corpus(args.queries)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "index"
        shutil.copytree(args.index, directory)
        index = TextIndex.load(directory)
        documents = len(index.index_)
        started = time.perf_counter()
        index.add(new)
        added = time.perf_counter()
        index.save(directory)
        saved = time.perf_counter()
        gone = new.doc_ids[: args.remove]
        index = TextIndex.load(directory)
        loaded = time.perf_counter()
        index.remove(gone)
        removed = time.perf_counter()
        index.save(directory)
        resaved = time.perf_counter()
        index = TextIndex.load(directory)
        kept = new.doc_ids[args.remove :]
        found = sum(
            hits[0].doc_id == doc_id for doc_id, hits in zip(kept, index.search(new.texts[args.remove :], 1)) if hits
        )
        updates = index.updates_
    row = {
        "index": os.path.relpath(args.index, ROOT),
        "documents": documents,
        "added": len(new),
        "add_seconds": round(added - started, 2),
        "save_after_add_seconds": round(saved - added, 2),
        "removed": len(gone),
        "remove_seconds": round(removed - loaded, 3),
        "save_after_remove_seconds": round(resaved - removed, 2),
        "added_found_first_by_own_text": found,
        "added_still_in": len(kept),
        "words_outside_vocabulary": round(updates["unknown_words"] / updates["words"], 3),
        "cpus": len(os.sched_getaffinity(0)),
        "date": time.strftime("%Y-%m-%d"),
    }
    append_row(RESULTS, row)
    print(
        f"{row['index']} ({documents:,} documents): add {len(new):,} in {row['add_seconds']} s, save "
        f"{row['save_after_add_seconds']} s; remove {len(gone):,} in {row['remove_seconds']} s, save "
        f"{row['save_after_remove_seconds']} s; {found:,} of the {len(kept):,} added documents still in the "
        f"index are found first by their own text; {row['words_outside_vocabulary']:.1%} of the added "
        "documents' words are outside the vocabulary"
    )


if __name__ == "__main__":
    main()
