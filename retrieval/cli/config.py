"""``retrieval config show DIR``: the settings an index was built with, as TOML that ``build --config`` takes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retrieval.cli.common import user_errors

config_app = typer.Typer(
    help="An index's build settings as TOML, for `retrieval build --config FILE`.", no_args_is_help=True
)


@config_app.command("show")
@user_errors
def show(index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")]):
    """Print the settings DIR was built with, as TOML (`retrieval build --config` reads it back)."""
    from indexing import read_manifest
    from retrieval.config.toml import to_toml

    manifest = read_manifest(index_dir)
    typer.echo(to_toml(manifest["config"]), nl=False)
