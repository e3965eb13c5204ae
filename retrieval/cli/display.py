"""Rendering for the CLI: tables and progress for people, JSON for machines."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import nullcontext

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal and "COLUMNS" not in os.environ:
    out.width = 120  # pipes and logs: wide tables stay readable
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def status(message: str):
    """A spinner on a terminal; nothing when stderr is a pipe or a file."""
    return err.status(message, spinner="dots") if err.is_terminal else nullcontext()


class _Counted(ProgressColumn):
    """Documents so far and documents per second (a pass over the corpus), or epochs (training)."""

    def render(self, task) -> Text:
        docs = task.fields.get("docs")
        if docs is None:
            return Text(f"{int(task.completed)}/{int(task.total)}" if task.total else "")
        rate = docs / task.elapsed if task.elapsed else 0.0
        return Text(f"{docs:,} docs  {rate:,.0f} docs/s")


class BuildProgress:
    """Progress bars on stderr; plain per-stage lines when stderr is not a terminal.

    A pass over the corpus shows documents, documents per second and the time left (from
    the share of the files or bytes read); training shows epochs.

    Parameters
    ----------
    epochs : int or callable
        Training epochs, or a function giving them once the training sample is known.
    """

    SCALE = 1000  # a pass's bar counts thousandths of the corpus read

    def __init__(self, epochs, quiet: bool = False):
        self.epochs, self.quiet = epochs, quiet
        self.live = err.is_terminal and not quiet
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _Counted(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        self._task = None
        self._name, self._docs, self._started = None, None, 0.0

    def __enter__(self):
        if self.live:
            self._progress.start()
        return self

    def __exit__(self, *exc):
        if self.live:
            self._progress.stop()

    def _finish_task(self):
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, completed=task.total or 1, total=task.total or 1)

    def _summarise(self) -> None:
        """On a log: how many documents the stage that ends went through, and how fast."""
        if not self.live and not self.quiet and self._docs:
            seconds = time.perf_counter() - self._started
            err.print(f"  {self._docs:,} documents in {seconds:.1f} s ({self._docs / max(seconds, 1e-9):,.0f} docs/s)")

    def stage(self, name: str) -> None:
        self._summarise()
        self._name, self._docs, self._started = name, None, time.perf_counter()
        if self.live:
            self._finish_task()
            total = self._epochs() if name == "training" else None
            self._task = self._progress.add_task(name, total=total)
        elif not self.quiet:
            err.print(f"{name}…")

    def _epochs(self) -> int:
        return self.epochs() if callable(self.epochs) else self.epochs

    def documents(self, docs: int, fraction: float | None) -> None:
        """A pass over the corpus has reached ``docs`` documents and ``fraction`` of its bytes or files."""
        self._docs = docs
        if self.live:
            done = None if fraction is None else round(fraction * self.SCALE)
            self._progress.update(
                self._task, total=self.SCALE if done is not None else None, completed=done or 0, docs=docs
            )

    def epoch(self, epoch: int, logs: dict) -> None:
        loss = " ".join(f"{key} {value:.4f}" for key, value in logs.items() if "loss" in key)
        if self.live:
            self._progress.update(self._task, completed=epoch, description=f"training  {loss}")
        elif not self.quiet:
            err.print(f"  epoch {epoch}/{self._epochs()}  {loss}")

    def done(self) -> None:
        self._summarise()
        self._docs = None
        if self.live:
            self._finish_task()


def _clip(text: str, width: int) -> str:
    from retrieval.code_index import snippet  # here: the CLI starts without numpy and FAISS

    return snippet(text, max(width, 1))


def _sides(hit) -> str:
    """A hybrid hit's own scores, compactly: the codes' and BM25's ("–" where a side did not score it)."""
    return " / ".join(
        "–" if score is None else f"{score:.{places}f}" for score, places in ((hit.semantic, 3), (hit.lexical, 2))
    )


def hits_table(title: str, hits, mode: str | None = None) -> Table:
    """One query's hits; ``mode`` (a text query's) goes in the title, and hybrid mode adds each side's score."""
    hybrid = mode == "hybrid"
    rows = []
    for rank, hit in enumerate(hits, start=1):
        text = hit.snippet if hit.title == hit.doc_id else f"{hit.title} — {hit.snippet}"
        rows.append(
            [str(rank), hit.doc_id, f"{hit.score:.3f}", *([_sides(hit)] if hybrid else []), hit.label or "", text]
        )
    columns = ["rank", "id", "score", *(["codes / bm25"] if hybrid else []), "label", "title / snippet"]
    for i in (len(columns) - 1, len(columns) - 2):  # drop a column nobody has (no labels; images have no text)
        if not any(row[i] for row in rows):
            columns.pop(i)
            rows = [row[:i] + row[i + 1 :] for row in rows]
    rows = [[_clip(cell, 40) for cell in row] for row in rows]
    if columns[-1] == "title / snippet":
        widths = [max([len(columns[i])] + [len(row[i]) for row in rows]) for i in range(len(columns) - 1)]
        room = max(20, out.width - sum(widths) - 3 * len(columns) - 1)  # 3 = a border and two pads
        rows = [row[:-1] + [_clip(row[-1], room)] for row in rows]
    # Text, not str: rich would read a query's or a snippet's "[...]" as markup (and fail on "[/b]")
    table = Table(title=Text(title + (f" · {mode} search" if mode else "")), title_justify="left")
    for name in columns:
        table.add_column(name, justify="right" if name in ("rank", "score", "codes / bm25") else "left", no_wrap=True)
    for row in rows:
        table.add_row(*map(Text, row))
    return table


def _figures_table(title: str, rows: list[dict], columns: list[tuple[str, str]], caption: str | None = None) -> Table:
    """One row per method (``rows``: dicts with ``method``, ``dims``, ``seconds`` and the ``columns``' keys),
    each figure to four places, the best of each column in bold."""
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for name, justify in [
        ("method", "left"),
        ("dims", "right"),
        *[(heading, "right") for heading, _ in columns],
        ("seconds", "right"),
    ]:
        table.add_column(name, justify=justify)
    best = {key: max(row[key] for row in rows) for _, key in columns}
    for row in rows:
        name = f"{row['mode']} mode" if "mode" in row else row["method"]
        cells = [Text(f"{row[key]:.4f}", style="bold" if row[key] >= best[key] else "") for _, key in columns]
        table.add_row(name, str(row["dims"]), *cells, f"{row['seconds']:.1f}")
    return table


def evaluation_table(report: dict) -> Table:
    """The label protocol: the codes (the semantic mode), the hybrid and lexical modes when measured, the baselines."""
    k, methods = report["k"], report["methods"]
    modes = report.get("modes")
    rows = (
        methods
        if modes is None
        else [{**methods[0], "method": f"{methods[0]['method']} (semantic mode)"}, *modes, *methods[1:]]
    )
    return _figures_table(
        f"{report['queries']} queries against {report['database']} documents (relevant = same label)",
        rows,
        [(f"P@{k}", "precision_at_k"), ("MAP", "mean_average_precision")],
    )


def known_item_table(report: dict) -> Table:
    """The known-item protocol: each mode through the query path, then the baselines."""
    cut = report["cutoff"]
    return _figures_table(
        f"{report['queries']} known-item queries against {report['database']} documents "
        f"(one right document each; modes through search, k = {cut})",
        report["modes"] + report["methods"],
        [(f"MRR@{cut}", f"mrr_at_{cut}"), ("success@1", "success_at_1"), (f"success@{cut}", f"success_at_{cut}")],
    )


def evaluation_tables(report: dict, with_bm25: bool = True) -> list[Table]:
    """``retrieval evaluate``'s tables: the label protocol's and the known-item one's, whichever were measured."""
    tables = ([evaluation_table(report)] if "methods" in report else []) + (
        [known_item_table(report["known_item"])] if "known_item" in report else []
    )
    if not with_bm25 and tables:
        tables[-1].caption = "the BM25 baseline needs the indexed texts: add --database CORPUS (the one built from)"
        tables[-1].caption_justify = "left"
    return tables


def _query_path(manifest: dict) -> str:
    """What a query runs: the numpy steps exported at build time, or Keras for an older bundle."""
    steps = manifest.get("encoder")
    if not steps:
        return "Keras encoder (built before the numpy runtime; exported in memory when loaded)"
    words = []
    for step in steps:
        word = {"dense": "dense", "conv2d": "conv", "add": "add", "code_transform": "fixed map"}.get(step["op"])
        if word is None:
            continue
        if step["name"] == "anchor":
            word = "anchor"
        units = f" {step['units']}" if step.get("units") else ""
        activation = f" {step['activation']}" if step.get("activation") not in (None, "linear") else ""
        words.append(f"{word}{units}{activation}")
    return f"numpy, {len(steps)} steps: " + ", ".join(words)


def info_table(path, manifest: dict) -> Table:
    table = Table(title=str(path), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    cfg = manifest["config"]
    ae, tr = cfg["autoencoder"], cfg["train"]
    history = manifest.get("history", {}).get("loss", [])
    conv = [f"conv{f}" for f in ae.get("conv_filters", [])]
    rows = [
        ("kind", manifest["kind"] + (f" ({cfg['model']} model)" if "model" in cfg else "")),
        ("autoencoder", ae.get("kind", "plain")),
        ("documents", f"{manifest['documents']:,}"),
        ("labelled", "yes" if manifest.get("labelled") else "no"),
        *([("vocabulary", f"{manifest['vocabulary_size']:,} terms")] if "vocabulary_size" in manifest else []),
        *([("image shape", "x".join(map(str, manifest["image_shape"])))] if "image_shape" in manifest else []),
        (
            "code size",
            f"{manifest['code_size']} bits, {manifest['code_size'] // 8} bytes per document (hamming, "
            f"{ae.get('binarizer', 'straight_through')} binarizer)"
            if manifest["metric"] == "hamming"
            else f"{manifest['code_size']} ({manifest['metric']}{', centred' if ae.get('center_codes') else ''})",
        ),
        (
            "layers",
            "-".join(
                str(w)
                for w in ["in", *conv, *ae["hidden"], ae["code_size"], *reversed(ae["hidden"]), *reversed(conv), "in"]
            ),
        ),
        ("output / loss", f"{ae['output']} / {ae['loss']}"),
        ("query path", _query_path(manifest)),
        ("search", search_words(manifest.get("index", {"kind": "flat"}))),
        *(lexical_rows(manifest) if manifest["kind"] == "text" else []),
        *(
            [("anchor", f"{ae['anchor']} (a fixed projection added to the code)")]
            if ae.get("anchor", "none") != "none"
            else []
        ),
        *(
            [("targets", f"own words + {nb['weight']:g} x mean of {nb['k']} LSA-{nb['dims']} neighbours")]
            if (nb := cfg.get("neighbours")) and nb.get("k") and nb.get("weight")
            else []
        ),
        *(
            [("noise", f"{cfg['noise']['kind']} {cfg['noise']['amount']:g}")]
            if cfg.get("noise", {}).get("kind", "none") != "none"
            else []
        ),
        (
            "training",
            f"{len(history)} epochs"
            + (
                f" after {len(warmup)} decoder warm-up"
                if (warmup := manifest.get("history", {}).get("warmup_loss"))
                else ""
            )
            + f", {tr['optimizer']} lr {tr['learning_rate']:g}, batch {tr['batch_size']}, seed {tr['seed']}",
        ),
        ("final loss", f"{history[-1]:.4f}" if history else "-"),
        ("build time", f"{manifest.get('build_seconds', 0):.1f} s"),
        *([("since the build", updates_line(manifest["updates"]))] if manifest.get("updates") else []),
        *([("check", manifest["validation"]["message"])] if manifest.get("validation") else []),
        ("format", str(manifest["format_version"])),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(manifest["library_versions"].items()))),
        (
            "size on disk",
            f"{sum(f['bytes'] for f in manifest['files'].values()) / 1e6:.1f} MB in {len(manifest['files']) + 1} files",
        ),
    ]
    for field, value in rows:
        table.add_row(field, value)
    return table


def lexical_rows(manifest: dict) -> list[tuple[str, str]]:
    """A text index's lexical (BM25) side and hybrid search's weights, or why it has none."""
    lexical, fusion = manifest.get("lexical"), manifest.get("fusion")
    if lexical is None:
        from retrieval.text.search import NO_LEXICAL

        built_without = manifest["config"].get("lexical", {}).get("enabled") is False
        return [
            (
                "lexical",
                "none: built with --no-lexical, so it answers in semantic mode only"
                if built_without
                else manifest.get("lexical_note") or NO_LEXICAL,
            )
        ]
    stemmer = lexical.get("analyzer", {}).get("stemmer", "none")
    mean = f", mean length {lexical['avgdl']:.1f} as built" if "avgdl" in lexical else ""
    rows = [
        (
            "lexical",
            f"BM25 (k1 {lexical['k1']:g}, b {lexical['b']:g}, stemmer {stemmer}{mean}): "
            f"{lexical['terms']:,} terms, {lexical['postings']:,} postings",
        )
    ]
    if lexical.get("pair_weight"):
        rows.append(
            (
                "word pairs",
                f"weigh {lexical['pair_weight']:g} beside a short query's words; "
                f"{lexical.get('pair_terms', 0):,} of the terms",
            )
        )
    if fusion:
        short, long = fusion["alpha_short"], fusion["alpha_long"]
        weights = (
            f"codes weight {short:g} for short and long queries alike"
            if short == long
            else f"codes weight {short:g} up to {fusion.get('short_terms', 10)} query terms, "
            f"{long:g} from {fusion.get('long_terms', 40)}"
        )
        rows += [("hybrid", f"{weights} (BM25 the rest)"), ("weights chosen by", fusion.get("chosen_by", "-"))]
    return rows


def search_words(plan: dict) -> str:
    """How the FAISS index searches, in words: exact, or IVF / HNSW with their settings."""
    if plan.get("kind") == "ivfpq":
        return (
            f"IVF-PQ index, {plan['nlist']:,} lists, {plan['pq']} bytes a code, {plan['nprobe']} scanned per query "
            "(approximate, compressed)"
        )
    if plan.get("kind") == "ivf":
        return f"IVF index, {plan['nlist']:,} lists, {plan['nprobe']} scanned per query (approximate)"
    if plan.get("kind") == "hnsw":
        return f"HNSW index, {plan['m']} links per document, efSearch {plan['ef_search']} (approximate)"
    return "flat index (exact)"


def updates_line(updates: dict) -> str:
    """What ``add`` and ``remove`` did since the build, and how much of the new text the vocabulary lacks."""
    parts = [f"{updates.get(name, 0):,} {name}" for name in ("added", "replaced", "removed") if updates.get(name)]
    if updates.get("words"):
        share = updates["unknown_words"] / updates["words"]
        parts.append(f"{share:.0%} of the new documents' words are outside the vocabulary")
    return "; ".join(parts) or "nothing"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def image_report_tables(report: dict) -> list[Table]:
    """Tables for ``retrieval images evaluate``: reconstruction, denoising, retrieval (and, for a linear model, PCA)."""
    rec = report["reconstruction"]
    k, knn = report["k"], report["knn"]
    pca = report.get("pca_subspace")
    extra = (
        [
            _table(
                f"linear autoencoder vs the top {pca['components']} PCA components",
                ["median angle", "largest angle", "angles under 5°", "variance captured / PCA's"],
                [
                    [
                        f"{pca['median_angle_degrees']:.1f}°",
                        f"{pca['max_angle_degrees']:.1f}°",
                        f"{pca['angles_under_5_degrees']} of {pca['components']}",
                        f"{pca['variance_ratio']:.4f}",
                    ]
                ],
            )
        ]
        if pca
        else []
    )
    return extra + [
        _table(
            f"reconstruction of {report['queries']:,} test images",
            ["BCE", "MSE", "PSNR (dB)"],
            [[f"{rec['bce']:.4f}", f"{rec['mse']:.4f}", f"{rec['psnr']:.2f}"]],
        ),
        _table(
            "denoising (PSNR against the clean images, dB)",
            ["noise", "amount", "noisy", "denoised", "gain"],
            [
                [
                    d["noise"],
                    f"{d['amount']:g}",
                    f"{d['psnr_noisy']:.2f}",
                    f"{d['psnr_denoised']:.2f}",
                    f"{d['psnr_denoised'] - d['psnr_noisy']:+.2f}",
                ]
                for d in report["denoising"]
            ],
        ),
        _table(
            f"retrieval against {report['database']:,} training images ({report['metric']}; relevant = same class)",
            ["method", "dims", f"kNN-{knn} accuracy", f"P@{k}", "seconds"],
            [
                [
                    m["method"],
                    str(m["dims"]),
                    f"{m['knn_accuracy']:.4f}",
                    f"{m['precision_at_k']:.4f}",
                    f"{m['seconds']:.1f}",
                ]
                for m in report["retrieval"]
            ],
        ),
    ]


def kinds_table(title: str, rows: list[dict], baselines: list[dict], columns: list[tuple[str, str, str]]) -> Table:
    """One row per kind, then the baselines; ``columns`` are (heading, key, format)."""
    body = [
        [
            row["kind"],
            *[format(row[key], fmt) if key in row else "–" for _, key, fmt in columns],
            f"{row['train_seconds']:.0f}",
        ]
        for row in rows
    ]
    body += [
        [row["method"], *[format(row[key], fmt) if key in row else "–" for _, key, fmt in columns], "–"]
        for row in baselines
    ]
    return _table(title, ["kind", *[heading for heading, _, _ in columns], "train s"], body)
