"""A build's settings as TOML: `retrieval config show DIR` prints them, `retrieval build --config FILE` takes them."""

from __future__ import annotations

import json
import tomllib

import pytest
from conftest import TINY_CONFIG, TINY_FLAGS, run_cli

from retrieval.config import BuildConfig
from retrieval.config.toml import to_toml


@pytest.mark.parametrize(
    "config", [BuildConfig(), TINY_CONFIG, BuildConfig().override(autoencoder={"codes": "binary"})]
)
def test_toml_reads_back_as_the_same_config(config):
    assert BuildConfig.from_dict(tomllib.loads(to_toml(config.to_dict()))) == config


def test_config_show_prints_what_the_index_was_built_with(bundle_dir):
    result = run_cli("config", "show", bundle_dir)
    assert result.exit_code == 0, result.output
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert BuildConfig.from_dict(tomllib.loads(result.stdout)) == BuildConfig.from_dict(manifest["config"])


def test_build_takes_a_config_file_and_the_flags_win_over_it(corpus_file, tmp_path):
    settings = tmp_path / "build.toml"
    settings.write_text(
        'train_sample = 0\n\n[autoencoder]\ncode_size = 6\nactivation = "tanh"\n\n[lexical]\nk1 = 1.5\n'
    )
    flags = [flag for flag in TINY_FLAGS]
    flags[flags.index("--code-size") + 1] = "4"  # the flag, given, wins over the file's 6
    out = tmp_path / "index"
    result = run_cli("build", corpus_file, "--out", out, *flags, "--config", settings, "--no-validate")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "manifest.json").read_text())["config"]
    assert config["autoencoder"]["code_size"] == 4 and config["autoencoder"]["activation"] == "tanh"
    assert config["lexical"]["k1"] == 1.5 and config["train_sample"] == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("[autoencoder]\ncode_sise = 6\n", "[autoencoder] has no field 'code_sise'"),
        ("[encoder]\ncode_size = 6\n", "no config field or section named 'encoder'"),
        ("autoencoder = 3\n", "autoencoder is a section"),
        ("[autoencoder\n", "is not valid TOML"),
        ("[autoencoder]\ncode_size = -1\n", "code_size"),
    ],
)
def test_a_bad_config_file_is_one_line_and_writes_nothing(corpus_file, tmp_path, text, message):
    settings = tmp_path / "build.toml"
    settings.write_text(text)
    out = tmp_path / "index"
    result = run_cli("build", corpus_file, "--out", out, "--config", settings)
    assert result.exit_code == 1 and message in result.output and not out.exists(), result.output
