"""What every command shares: the error handling and the --json option."""

from __future__ import annotations

import functools
from typing import Annotated, Optional

import typer

from indexing.errors import IndexingError
from retrieval.errors import NotFittedError, RetrievalError

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per result on stdout, for machines.")]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer of the same index to finish (default: fail at once)."
    ),
]


def user_errors(command):
    """Print a user's mistake as one line on stderr with exit 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from rich.markup import escape  # a message may hold [brackets] (a TOML table): text, not a style

        from retrieval.cli import display

        try:
            return command(*args, **kwargs)
        except (RetrievalError, IndexingError, NotFittedError) as error:
            display.err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            display.err.print("interrupted: nothing was written; any previous index is unchanged")
            raise typer.Exit(130) from None
        except OSError as error:
            where = f" {error.filename}" if error.filename else ""
            display.err.print(
                f"[bold red]error:[/] {escape(str(error.strerror or error))}:{escape(where)}", markup=True
            )
            raise typer.Exit(1) from None

    return wrapper


CodeSizeOpt = Annotated[Optional[int], typer.Option(help="Code dimensions [32].")]
EpochsOpt = Annotated[Optional[int], typer.Option(help="Training epochs [20].")]
BatchSizeOpt = Annotated[Optional[int], typer.Option(help="Mini-batch size [128 text, 256 images].")]
LearningRateOpt = Annotated[Optional[float], typer.Option(help="Initial learning rate [text 3e-4, images 1e-3].")]
OptimizerOpt = Annotated[Optional[str], typer.Option(help="adam, adamw, sgd, rmsprop or adadelta [adam].")]
LrScheduleOpt = Annotated[Optional[str], typer.Option(help="LearningRateScheduler: constant, cosine or exponential.")]
ValidationOpt = Annotated[Optional[float], typer.Option(help="Fraction held out to monitor val_loss [0].")]
EarlyStoppingOpt = Annotated[Optional[int], typer.Option(help="EarlyStopping patience in epochs (0 = off).")]
ReduceLrOpt = Annotated[Optional[int], typer.Option(help="ReduceLROnPlateau patience in epochs (0 = off).")]
CheckpointOpt = Annotated[Optional[str], typer.Option(help="ModelCheckpoint: save the best model to this .keras path.")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Random seed; the same seed builds the same index [0].")]
MetricOpt = Annotated[Optional[str], typer.Option(help="cosine or l2 [cosine].")]


StackedOpt = Annotated[
    Optional[int],
    typer.Option("--stacked", help="Greedy layer-wise pre-training, N epochs per layer, before fine-tuning (0 = off)."),
]


def train_options(
    epochs,
    batch_size,
    learning_rate,
    optimizer,
    lr_schedule,
    validation_fraction,
    early_stopping,
    reduce_lr,
    checkpoint,
    seed,
    stacked=None,
) -> dict:
    """The TrainConfig fields that the training flags set (None = keep the default)."""
    return dict(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        optimizer=optimizer,
        lr_schedule=lr_schedule,
        validation_fraction=validation_fraction,
        early_stopping=early_stopping,
        reduce_lr=reduce_lr,
        checkpoint=checkpoint,
        seed=seed,
        pretrain_epochs=stacked,
    )


KindOpt = Annotated[Optional[str], typer.Option(help="plain, denoising, sparse, contractive or variational.")]
SparseL1Opt = Annotated[Optional[float], typer.Option(help="sparse: L1 penalty on the code [1e-4].")]
SparseKlOpt = Annotated[
    Optional[float],
    typer.Option(help="sparse: KL penalty towards --sparse-target (needs --code-activation sigmoid) [0]."),
]
SparseTargetOpt = Annotated[Optional[float], typer.Option(help="sparse: target mean activation rho [0.05].")]
ContractiveOpt = Annotated[Optional[float], typer.Option(help="contractive: weight of the Jacobian penalty [1e-4].")]
BetaOpt = Annotated[Optional[float], typer.Option(help="variational: weight of the KL term [1].")]
CodeActivationOpt = Annotated[Optional[str], typer.Option(help="Code-layer activation [linear text, relu images].")]


def kind_options(kind, sparse_l1, sparse_kl, sparse_target, contractive_weight, beta, code_activation) -> dict:
    """The AutoencoderConfig fields that the kind flags set (None = keep the default)."""
    return dict(
        kind=kind,
        sparse_l1=sparse_l1,
        sparse_kl=sparse_kl,
        sparse_target=sparse_target,
        contractive_weight=contractive_weight,
        beta=beta,
        code_activation=code_activation,
    )


def report_kinds(rows, baselines, k, out_dir, json_out, columns, what):
    """Print the kinds comparison (and write compare.json and compare.png to out_dir)."""
    import json

    from retrieval.cli import display
    from retrieval.evaluation import plots

    result = {"k": k, "kinds": rows, "baselines": baselines}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "compare.json").write_text(json.dumps(result, indent=2) + "\n")
        plots.kinds_chart(
            out_dir / "compare.png",
            rows,
            baselines,
            "precision_at_k",
            f"precision@{k}",
            f"{what}: autoencoder kinds (same budget) and baselines",
        )
    if json_out:
        display.print_json(result)
    else:
        display.out.print(
            display.kinds_table(f"{what}: every kind trained with the same budget", rows, baselines, columns)
        )
        if out_dir is not None:
            display.out.print(f"wrote {out_dir / 'compare.json'} and {out_dir / 'compare.png'}")


_UNITS = {"": 1, "K": 2**-10, "M": 1, "G": 2**10, "T": 2**20}


def memory_mb(value: str | None, name: str) -> int | None:
    """A size such as ``512MB``, ``2GB``, ``1.5G`` or ``800`` (megabytes), in whole megabytes."""
    import re

    if value is None:
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", value, flags=re.IGNORECASE)
    if not found:
        raise RetrievalError(f"{name} must be a size such as 512MB or 2GB; got {value!r}")
    megabytes = float(found.group(1)) * _UNITS[found.group(2).upper()]
    if megabytes < 1:
        raise RetrievalError(f"{name} must be at least 1MB; got {value!r}")
    return int(megabytes)
