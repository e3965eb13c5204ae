"""Debian package descriptions labelled by their Section, from Debian's own package index.

``apt-get update`` fetches one suite's ``Packages`` index (package -> Section and
Description-md5) and its ``Translation-en`` index (Description-md5 -> long description)
into a scratch directory, through a private sources list and lists directory: the
machine's apt state and configuration are left as they were, and root is not needed.
The parsing functions are pure, so tests feed them tiny strings.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from indexing.bundle import sha256_file
from retrieval.errors import RetrievalError

# apt runs these after an update; they refresh system-wide caches, which a private update must not touch
UPDATE_HOOKS = ("APT::Update::Pre-Invoke", "APT::Update::Post-Invoke", "APT::Update::Post-Invoke-Success")


@dataclass(frozen=True)
class DebianDataset:
    """Long descriptions of one Debian suite's packages, labelled by Section."""

    name: str
    suite: str
    component: str
    architecture: str
    min_count: int  # sections with fewer documents (after de-duplication) are dropped
    licence: str
    test_modulus: int = 10  # test = packages whose sha256(name) mod this is 0
    apt_dir: str = "/etc/apt"  # where the machine's sources say which mirror serves the suite
    keyring: str = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _stanzas(text: str):
    """Deb822 paragraphs as dicts; a field's continuation lines follow its first line after newlines."""
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and key is not None:
                fields[key] += "\n" + line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def parse_packages(text: str) -> dict[str, tuple[str, str]]:
    """``Packages`` index -> {package: (Section, Description-md5)}; the first stanza of a package wins."""
    packages = {}
    for fields in _stanzas(text):
        if {"Package", "Section", "Description-md5"} <= fields.keys():
            packages.setdefault(fields["Package"], (fields["Section"], fields["Description-md5"]))
    return packages


def description_text(value: str) -> str:
    """A Description field -> its summary and long-description lines, without indents or `` .`` markers."""
    summary, *body = value.split("\n")
    lines = (line.strip() for line in body)
    return "\n".join([summary.strip(), *(line for line in lines if line and line != ".")])


def parse_translations(text: str) -> dict[str, str]:
    """``Translation-en`` index -> {Description-md5: summary and long description}."""
    return {
        fields["Description-md5"]: description_text(fields["Description-en"])
        for fields in _stanzas(text)
        if {"Description-md5", "Description-en"} <= fields.keys()
    }


def label_of(section: str) -> str:
    """A Section without its component prefix: ``contrib/net`` -> ``net``."""
    return section.rsplit("/", 1)[-1]


def split_of(package: str, modulus: int = 10) -> str:
    """``test`` for the packages whose sha256(name) is 0 mod ``modulus``, else ``train``."""
    return "test" if int(hashlib.sha256(package.encode("utf-8")).hexdigest(), 16) % modulus == 0 else "train"


def _unique_documents(packages: dict, translations: dict):
    """(package, text, label) in package order, skipping a text already seen and undescribed packages."""
    seen = set()
    for package in sorted(packages):
        section, md5 = packages[package]
        text = translations.get(md5)
        if text and text not in seen:
            seen.add(text)
            yield package, text, label_of(section)


def make_records(packages: dict, translations: dict, min_count: int = 50, modulus: int = 10) -> dict[str, list]:
    """Records ``{"id": package, "text", "label": section}`` per split.

    Parameters
    ----------
    packages : dict
        From :func:`parse_packages`.
    translations : dict
        From :func:`parse_translations`; packages without a description there are left out.
    min_count : int
        Sections with fewer documents, counted after identical texts are dropped, are left out.
    modulus : int
        A package goes to ``test`` when sha256 of its name is 0 modulo this (see :func:`split_of`).
    """
    documents = list(_unique_documents(packages, translations))
    counts = Counter(label for _, _, label in documents)
    splits = {"train": [], "test": []}
    for package, text, label in documents:
        if counts[label] >= min_count:
            splits[split_of(package, modulus)].append({"id": package, "text": text, "label": label})
    return splits


def _source_entries(apt_dir: Path):
    """(URI, suites, components) of each deb source configured under ``apt_dir``, one-line or deb822."""
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], {words[2]}, set(words[3:])
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for fields in _stanzas(path.read_text()):
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                for uri in fields.get("URIs", "").split():
                    yield uri, set(fields.get("Suites", "").split()), set(fields.get("Components", "").split())


def configured_mirror(dataset: DebianDataset) -> str:
    """The mirror this machine's apt already uses for the dataset's suite and component."""
    for uri, suites, components in _source_entries(Path(dataset.apt_dir)):
        if dataset.suite in suites and dataset.component in components:
            return uri.rstrip("/")
    raise RetrievalError(f"{dataset.name} needs an apt source for Debian {dataset.suite} {dataset.component}; "
                         f"none is configured in {dataset.apt_dir}")


def _apt_command(dataset: DebianDataset, scratch: Path) -> list[str]:
    """The ``apt-get update`` command line, once its private sources list and config are in ``scratch``."""
    import pwd  # POSIX only, like apt

    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise RetrievalError(f"{dataset.name} needs apt-get (Debian or Ubuntu) to download Debian's package index; "
                             "it is not on PATH")
    if not Path(dataset.keyring).is_file():
        raise RetrievalError(f"{dataset.name} needs Debian's archive keyring {dataset.keyring} to check the index; "
                             "install the debian-archive-keyring package")
    (scratch / "lists" / "partial").mkdir(parents=True)
    (scratch / "sources.list.d").mkdir()
    (scratch / "sources.list").write_text(f"deb [arch={dataset.architecture} signed-by={dataset.keyring}] "
                                          f"{configured_mirror(dataset)} {dataset.suite} {dataset.component}\n")
    (scratch / "apt.conf").write_text("".join(f"#clear {hook};\n" for hook in UPDATE_HOOKS))
    options = {
        "Dir::State::Lists": scratch / "lists", "Dir::Cache": scratch / "cache",
        "Dir::Etc::SourceList": scratch / "sources.list", "Dir::Etc::SourceParts": scratch / "sources.list.d",
        "Acquire::Languages": "en", "Acquire::GzipIndexes": "false", "APT::Update::Error-Mode": "any",
        "APT::Sandbox::User": pwd.getpwuid(os.geteuid()).pw_name,
    }
    return [apt_get, "update", "-qq", "-c", str(scratch / "apt.conf"),
            *(arg for key, value in options.items() for arg in ("-o", f"{key}={value}"))]


def _index_file(lists: Path, tail: str) -> Path:
    found = sorted(lists.glob(f"*_dists_{tail}"))
    if len(found) != 1:
        present = ", ".join(sorted(path.name for path in lists.iterdir() if path.is_file())) or "nothing"
        raise RetrievalError(f"apt-get update left no uncompressed {tail.replace('_', ' ')} in {lists} "
                             f"(it holds: {present})")
    return found[0]


def download_index(dataset: DebianDataset, scratch: Path) -> dict[str, Path]:
    """Run ``apt-get update`` privately in ``scratch``; the InRelease, Packages and Translation-en files."""
    result = subprocess.run(_apt_command(dataset, scratch), capture_output=True, text=True)
    if result.returncode != 0:
        tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise RetrievalError(f"apt-get update could not fetch Debian {dataset.suite} {dataset.component}: {tail}")
    lists, where = scratch / "lists", f"{dataset.suite}_{dataset.component}"
    return {"release": _index_file(lists, f"{dataset.suite}_InRelease"),
            "packages": _index_file(lists, f"{where}_binary-{dataset.architecture}_Packages"),
            "translations": _index_file(lists, f"{where}_i18n_Translation-en")}


def _release_fields(in_release: str) -> dict[str, str]:
    """Version and Date of the signed Release file, to tell which point release was used."""
    return {key.lower(): match.group(1)
            for key in ("Version", "Date") if (match := re.search(rf"^{key}: (.*)$", in_release, re.M))}


def build(dataset: DebianDataset, scratch: Path) -> tuple[dict[str, list], dict]:
    """Download the index into ``scratch``; the records per split and what SOURCE.json says of them."""
    index = download_index(dataset, scratch)
    read = {role: path.read_text(encoding="utf-8") for role, path in index.items()}
    records = make_records(parse_packages(read["packages"]), parse_translations(read["translations"]),
                           dataset.min_count, dataset.test_modulus)
    stamp = {
        "source": f"Debian {dataset.suite} {dataset.component} ({dataset.architecture}) Packages and "
                  f"Translation-en indexes from the mirror apt is configured with, via a private apt-get update",
        "release": _release_fields(read["release"]),
        "fetched": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "index_files": {path.name: sha256_file(path) for path in index.values()},
        "moves": f"the {dataset.suite} index changes with point releases; a later fetch can give other documents",
        "recipe": f"text = summary + long description; label = Section without component; identical texts "
                  f"kept once (first package by name); sections under {dataset.min_count} documents dropped; "
                  f"test = sha256(package) mod {dataset.test_modulus} == 0",
        "licence": dataset.licence,
    }
    return records, stamp
