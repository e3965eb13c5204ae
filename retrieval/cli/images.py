"""``retrieval images …``: train, evaluate, denoise, query and plot on Fashion-MNIST (or any 28x28 IDX set)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retrieval.cli.common import (
    BatchSizeOpt,
    BetaOpt,
    CheckpointOpt,
    CodeActivationOpt,
    CodeSizeOpt,
    ContractiveOpt,
    EarlyStoppingOpt,
    EpochsOpt,
    JsonOpt,
    KindOpt,
    LearningRateOpt,
    LrScheduleOpt,
    MetricOpt,
    OptimizerOpt,
    ReduceLrOpt,
    SeedOpt,
    SparseKlOpt,
    SparseL1Opt,
    SparseTargetOpt,
    StackedOpt,
    ValidationOpt,
    kind_options,
    report_kinds,
    train_options,
    user_errors,
)
from retrieval.errors import RetrievalError

images_app = typer.Typer(
    rich_markup_mode=None,
    help="Images: reconstruct, denoise and search Fashion-MNIST with the same core.",
    no_args_is_help=True,
)

DirArg = Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval images train`.")]
DataOpt = Annotated[
    Optional[Path],
    typer.Option("--data", help="Directory of IDX files [data/fashion-mnist, then Debian's, then Keras' cache]."),
]
TestIndexOpt = Annotated[
    Optional[list[int]], typer.Option("--test-index", help="A test-split image by row (repeatable).")
]
ImageOpt = Annotated[Optional[Path], typer.Option("--image", help="A 28x28 grey image: .png or .npy.")]


def _queries(index, data_dir, test_index, image) -> tuple[list[str], "object"]:
    """The query images named by --test-index or --image, as (names, rows)."""
    import numpy as np

    from retrieval.images.data import load_image_file, load_images

    if (test_index is None) == (image is None):
        raise RetrievalError("give --test-index or --image (exactly one of them)")
    if image is not None:
        return [str(image)], load_image_file(image, index.image_shape_)[None, :]
    X_test, _ = load_images(data_dir).split("test")
    bad = [i for i in test_index if not 0 <= i < len(X_test)]
    if bad:
        raise RetrievalError(f"--test-index must be in [0, {len(X_test) - 1}]; got {bad[0]}")
    return [f"test:{i}" for i in test_index], X_test[np.array(test_index)]


@images_app.command()
@user_errors
def train(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the index to (replaced atomically).")],
    data_dir: DataOpt = None,
    model: Annotated[str, typer.Option(help="lecture (784-32-784), deep (784-128-64-32) or conv.")] = "lecture",
    code_size: CodeSizeOpt = None,
    kind: KindOpt = None,
    sparse_l1: SparseL1Opt = None,
    sparse_kl: SparseKlOpt = None,
    sparse_target: SparseTargetOpt = None,
    contractive_weight: ContractiveOpt = None,
    beta: BetaOpt = None,
    code_activation: CodeActivationOpt = None,
    noise: Annotated[
        Optional[str],
        typer.Option(help="Train as a denoising autoencoder: gaussian, salt_and_pepper, speckle, periodic or mixed."),
    ] = None,
    noise_amount: Annotated[Optional[float], typer.Option(help="Noise factor, fraction or amplitude [0.5].")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train and index only the first N training images.")] = None,
    epochs: EpochsOpt = None,
    batch_size: BatchSizeOpt = None,
    learning_rate: LearningRateOpt = None,
    optimizer: OptimizerOpt = None,
    lr_schedule: LrScheduleOpt = None,
    validation_fraction: ValidationOpt = None,
    early_stopping: EarlyStoppingOpt = None,
    reduce_lr: ReduceLrOpt = None,
    checkpoint: CheckpointOpt = None,
    seed: SeedOpt = None,
    stacked: StackedOpt = None,
    metric: MetricOpt = None,
    json_out: JsonOpt = False,
):
    """Train an image autoencoder on the training split and index its codes into --out."""
    import dataclasses

    from retrieval.cli import display
    from retrieval.config import ImageConfig
    from retrieval.images.data import image_model, load_images
    from retrieval.images.index import ImageIndex

    if limit is not None and limit <= 0:
        raise RetrievalError(f"--limit must be a positive whole number; got {limit}")
    with display.status("loading images…"):
        data = load_images(data_dir)
    base = image_model(model, code_size or 32, data.shape)
    config = dataclasses.replace(ImageConfig(), model=model, autoencoder=base).override(
        autoencoder=kind_options(kind, sparse_l1, sparse_kl, sparse_target, contractive_weight, beta, code_activation),
        noise=dict(kind=noise, amount=noise_amount),
        train=train_options(
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
            stacked,
        ),
        metric=metric,
    )
    X, y = data.X_train[:limit], data.y_train[:limit]
    with display.BuildProgress(config.train.epochs, quiet=json_out) as progress:
        index = ImageIndex(config).fit(
            X,
            [data.class_names[label] for label in y],
            [f"train:{i}" for i in range(len(X))],
            image_shape=data.shape,
            class_names=data.class_names,
            on_stage=progress.stage,
            on_epoch=progress.epoch,
        )
        progress.stage("saving")
        manifest = index.save(out, extra={"data": str(data.source)})
        progress.done()
    summary = {
        "out": str(out),
        "model": model,
        "images": manifest["documents"],
        "code_size": manifest["code_size"],
        "noise": config.noise.kind,
        "epochs": len(index.history_["loss"]),
        "final_loss": index.history_["loss"][-1],
        "build_seconds": manifest["build_seconds"],
    }
    if json_out:
        display.print_json(summary)
    else:
        display.out.print(
            f"trained {out}: {model} model, {summary['images']:,} images, {summary['code_size']}-d codes, "
            f"noise {summary['noise']}, {summary['epochs']} epochs (final loss {summary['final_loss']:.4f}), "
            f"{summary['build_seconds']:.1f} s"
        )


@images_app.command()
@user_errors
def evaluate(
    index_dir: DirArg,
    data_dir: DataOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Precision at this rank.")] = 100,
    knn: Annotated[int, typer.Option(help="Neighbours voting in kNN classification.")] = 5,
    noise_amount: Annotated[
        Optional[float],
        typer.Option(
            help="One amount for every noise kind [gaussian 0.5, salt_and_pepper 0.2, speckle 0.5, periodic 0.3]."
        ),
    ] = None,
    baselines: Annotated[bool, typer.Option(help="Also measure raw pixels and PCA at the code size.")] = True,
    kinds: Annotated[
        Optional[str], typer.Option(help="Retrain once per kind (comma-separated) with the same budget and compare.")
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option(help="With --kinds: write compare.json and compare.png here.")
    ] = None,
    json_out: JsonOpt = False,
):
    """Reconstruction, denoising per noise kind, and kNN / precision@k beside raw pixels and PCA."""
    from retrieval.cli import display
    from retrieval.evaluation.images import evaluate_images
    from retrieval.images.data import load_images
    from retrieval.images.index import ImageIndex
    from retrieval.model.noise import KINDS

    index = ImageIndex.load(index_dir)
    amounts = {kind: noise_amount for kind in KINDS} if noise_amount is not None else None
    data = load_images(data_dir)
    report = evaluate_images(
        index, data, k=k, knn=knn, amounts=amounts, baselines=baselines, seed=index.config.train.seed
    )
    if kinds is not None:
        from retrieval.evaluation.kinds import code_activity, compare_kinds, parse_kinds
        from retrieval.images.index import train_rows

        def measure(other):
            own = evaluate_images(other, data, k=k, knn=knn, amounts=amounts, baselines=False)
            retrieval, gaussian = own["retrieval"][0], own["denoising"][0]
            return {
                "knn_accuracy": retrieval["knn_accuracy"],
                "precision_at_k": retrieval["precision_at_k"],
                "bce": own["reconstruction"]["bce"],
                "mse": own["reconstruction"]["mse"],
                "gaussian_gain_db": gaussian["psnr_denoised"] - gaussian["psnr_noisy"],
                **code_activity(other.encode(data.X_test)),
            }

        rows = compare_kinds(
            index,
            parse_kinds(kinds),
            measure,
            X=data.X_train[train_rows(index.index_.id_map.doc_ids)],
            on_kind=lambda kind: display.err.print(f"training {kind}…") if not json_out else None,
        )
        report_kinds(
            rows,
            report["retrieval"][1:],
            k,
            out_dir,
            json_out,
            [
                (f"kNN-{knn}", "knn_accuracy", ".4f"),
                (f"P@{k}", "precision_at_k", ".4f"),
                ("BCE", "bce", ".4f"),
                ("denoise dB", "gaussian_gain_db", "+.2f"),
                ("|code|", "mean_activation", ".3f"),
                ("active", "active_fraction", ".3f"),
            ],
            "images",
        )
        return
    if json_out:
        display.print_json(report)
    else:
        for table in display.image_report_tables(report):
            display.out.print(table)


@images_app.command()
@user_errors
def denoise(
    index_dir: DirArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write: clean, noisy, denoised rows.")],
    test_index: TestIndexOpt = None,
    image: ImageOpt = None,
    data_dir: DataOpt = None,
    noise: Annotated[str, typer.Option(help="gaussian, salt_and_pepper, speckle or periodic.")] = "gaussian",
    amount: Annotated[float, typer.Option(help="Noise factor, fraction or amplitude.")] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    json_out: JsonOpt = False,
):
    """Corrupt images (the first 10 test images by default), denoise them, and report PSNR before and after."""
    import numpy as np

    from retrieval.cli import display
    from retrieval.config import NoiseConfig
    from retrieval.evaluation import plots
    from retrieval.images.index import ImageIndex
    from retrieval.model.noise import corrupt, psnr

    NoiseConfig(kind=noise, amount=amount)  # validates both
    if noise in ("none", "mixed"):
        raise RetrievalError(
            f"--noise must name one kind (gaussian, salt_and_pepper, speckle, periodic); got {noise!r}"
        )
    index = ImageIndex.load(index_dir)
    if test_index is None and image is None:
        test_index = list(range(10))
    names, clean = _queries(index, data_dir, test_index, image)
    noisy = corrupt(clean, noise, amount, np.random.default_rng(seed))
    denoised = index.reconstruct(noisy)
    plots.image_rows(out, [("clean", clean), ("noisy", noisy), ("denoised", denoised)], index.image_shape_)
    result = {
        "images": names,
        "noise": noise,
        "amount": amount,
        "psnr_noisy": psnr(clean, noisy),
        "psnr_denoised": psnr(clean, denoised),
        "picture": str(out),
    }
    if json_out:
        display.print_json(result)
    else:
        display.out.print(
            f"{len(names)} images, {noise} {amount}: PSNR {result['psnr_noisy']:.2f} dB noisy -> "
            f"{result['psnr_denoised']:.2f} dB denoised; wrote {out}"
        )


@images_app.command()
@user_errors
def query(
    index_dir: DirArg,
    test_index: TestIndexOpt = None,
    image: ImageOpt = None,
    data_dir: DataOpt = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many results per query.")] = 10,
    plot: Annotated[Optional[Path], typer.Option(help="Also draw the query and its neighbours to this PNG.")] = None,
    json_out: JsonOpt = False,
):
    """Find the indexed training images most similar to a test image or an image file."""
    from retrieval.cli import display
    from retrieval.code_index import query_json
    from retrieval.evaluation import plots
    from retrieval.images.data import load_images
    from retrieval.images.index import ImageIndex, train_rows

    if k <= 0:
        raise RetrievalError(f"-k must be a positive whole number; got {k}")
    index = ImageIndex.load(index_dir)
    names, rows = _queries(index, data_dir, test_index, image)
    results = index.search(rows, k)
    for name, hits in zip(names, results):
        if json_out:
            display.print_json(query_json(name, hits))
        else:
            display.out.print(display.hits_table(f"like {name}", hits))
    if plot is not None:
        X_train, _ = load_images(data_dir).split("train")
        hits = results[0]
        found = X_train[train_rows(hit.doc_id for hit in hits)]
        plots.neighbours(
            plot,
            rows[0],
            found,
            [f"{hit.label}\n{hit.score:.2f}" for hit in hits],
            index.image_shape_,
            f"query\n{names[0]}",
        )
        if not json_out:
            display.out.print(f"wrote {plot}")


@images_app.command()
@user_errors
def plot(
    index_dir: DirArg,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Directory for the PNG files.")] = Path("plots"),
    data_dir: DataOpt = None,
    n: Annotated[int, typer.Option(help="Images per row.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
):
    """Draw reconstructions, noisy vs denoised per noise kind, a query with neighbours, the code map, the loss."""
    import numpy as np

    from retrieval.cli import display
    from retrieval.evaluation import plots
    from retrieval.evaluation.images import DEFAULT_AMOUNTS
    from retrieval.images.data import load_images
    from retrieval.images.index import ImageIndex, train_rows
    from retrieval.model.noise import KINDS, corrupt

    if n <= 0:
        raise RetrievalError(f"--n must be a positive whole number; got {n}")
    index = ImageIndex.load(index_dir)
    data = load_images(data_dir)
    shape, clean = index.image_shape_, data.X_test[:n]
    rng = np.random.default_rng(seed)
    rows = [("clean", clean)]
    for kind in KINDS:
        noisy = corrupt(clean, kind, DEFAULT_AMOUNTS[kind], rng)
        rows += [(f"{kind}\n{DEFAULT_AMOUNTS[kind]}", noisy), ("denoised", index.reconstruct(noisy))]
    hits = index.search(data.X_test[:1], n)[0]
    found = data.X_train[train_rows(hit.doc_id for hit in hits)]
    subset = slice(0, min(5000, len(data.X_test)))
    written = [
        plots.image_rows(
            out_dir / "reconstructions.png", [("original", clean), ("reconstructed", index.reconstruct(clean))], shape
        ),
        plots.image_rows(out_dir / "denoising.png", rows, shape),
        plots.neighbours(
            out_dir / "neighbours.png",
            data.X_test[0],
            found,
            [f"{hit.label}\n{hit.score:.2f}" for hit in hits],
            shape,
            f"query\n{data.class_names[data.y_test[0]]}",
        ),
        plots.code_map(
            out_dir / "code_map.png",
            index.encode(data.X_test[subset]),
            data.y_test[subset],
            data.class_names,
            f"{index.config.model} codes of {subset.stop} test images (first two principal components)",
        ),
        plots.loss_curves(
            out_dir / "loss.png", index.history_, f"{index.config.model} model, noise {index.config.noise.kind}"
        ),
    ]
    for path in written:
        display.out.print(f"wrote {path}")
