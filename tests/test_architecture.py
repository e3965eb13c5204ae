"""The layout's rules: which package may import which, and a query path without TensorFlow or scikit-learn."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINING_ONLY = ("tensorflow", "keras", "sklearn")

# the packages whose direction import-linter checks (pyproject.toml, [tool.importlinter]); the rules here are
# what its contracts cannot say: which imports stay inside functions
PACKAGES = (
    "indexing",
    "retrieval.errors",
    "retrieval.config",
    "retrieval.runtime",
    "retrieval.model",
    "retrieval.data",
    "retrieval.bundle_io",
    "retrieval.code_index",
    "retrieval.text",
    "retrieval.images",
    "retrieval.evaluation",
    "retrieval.demos",
    "retrieval.server",
    "retrieval.spark",
    "retrieval.cli",
    "retrieval",
)
# packages whose modules import the model package (Keras) only inside the functions that train
LAZY_MODEL = (
    "retrieval.bundle_io",
    "retrieval.code_index",
    "retrieval.text",
    "retrieval.images",
    "retrieval.cli",
    "retrieval",
    "retrieval.server",
    "retrieval.spark",
)
SPARK_ONLY = ("pyspark", "pyarrow")  # the spark extra: only retrieval.spark imports it, pyspark inside functions


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported module, whether at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from ((name, id(node) in top) for name in names)


def _package(module: str) -> str:
    return max((p for p in PACKAGES if module == p or module.startswith(p + ".")), key=len)


def _project(name: str) -> str | None:
    return _package(name) if name.split(".")[0] in ("retrieval", "indexing") else None


def _sources():
    return sorted([*ROOT.joinpath("retrieval").rglob("*.py"), *ROOT.joinpath("indexing").rglob("*.py")])


def test_the_import_contracts_hold():
    """import-linter's contracts (pyproject.toml): the layers, and what indexing, the runtime and the server
    never import. `make test` runs lint-imports too; here a broken contract also fails a plain pytest run."""
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_keras_is_imported_only_inside_the_functions_that_train():
    wrong = []
    for path in _sources():
        module = _module_name(path)
        own = _package(module)
        for name, top_level in _imports(path):
            if top_level and own in LAZY_MODEL and own != "retrieval.cli" and _project(name) == "retrieval.model":
                wrong.append(f"{module} imports {name} at module level (Keras only when training)")
    assert not wrong, "\n".join(wrong)


def test_only_the_spark_engine_imports_the_spark_extra():
    wrong = []
    for path in _sources():
        module = _module_name(path)
        for name, top_level in _imports(path):
            if name.split(".")[0] not in SPARK_ONLY:
                continue
            if _package(module) != "retrieval.spark":
                wrong.append(f"{module} imports {name}")
            elif top_level and name.split(".")[0] == "pyspark":
                wrong.append(f"{module} imports {name} at module level (only inside the functions that run Spark)")
    assert not wrong, "\n".join(wrong)


def test_the_server_never_reaches_the_model():
    wrong = [
        f"{_module_name(path)} imports {name}"
        for path in ROOT.joinpath("retrieval", "server").rglob("*.py")
        for name, _ in _imports(path)
        if _project(name) in ("retrieval.model", "retrieval.evaluation") or name.split(".")[0] in TRAINING_ONLY
    ]
    assert not wrong, wrong


def test_the_rules_see_a_module_s_package():
    assert _package("retrieval.runtime.encoder") == "retrieval.runtime"
    assert _project("retrieval.model.fit") == "retrieval.model" and _project("numpy") is None


def _modules_after(code: str, env_extra=None) -> set:
    """The top-level modules loaded by running ``code`` in a fresh interpreter."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env_extra or {})}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _cli(*args: str) -> str:
    argv = ["retrieval", *map(str, args)]
    return (
        f"import sys\nsys.argv = {argv!r}\nfrom retrieval.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code"
    )


@pytest.mark.parametrize(
    "command",
    [
        ("--help",),
        ("query", "{index}", "{text}", "-k", "3"),
        ("info", "{index}"),
        ("query", "{index}", "--like", "{doc_id}", "--json"),
    ],
    ids=["help", "query", "info", "like"],
)
def test_the_query_path_imports_neither_tensorflow_nor_scikit_learn(bundle_dir, corpus, command):
    args = [a.format(index=bundle_dir, text=corpus.texts[0], doc_id=corpus.doc_ids[0]) for a in command]
    loaded = _modules_after(_cli(*args))
    assert not loaded & set(TRAINING_ONLY), loaded & set(TRAINING_ONLY)


def test_the_command_line_needs_no_spark_extra():
    loaded = _modules_after(_cli("--help"))
    assert not loaded & set(SPARK_ONLY), loaded & set(SPARK_ONLY)


def test_loading_and_searching_from_python_imports_neither(bundle_dir, corpus):
    code = (
        f"from retrieval import TextIndex\nindex = TextIndex.load({str(bundle_dir)!r})\n"
        f"assert index.search([{corpus.texts[0]!r}], 3)[0][0].doc_id == {corpus.doc_ids[0]!r}"
    )
    loaded = _modules_after(code)
    assert not loaded & set(TRAINING_ONLY), loaded & set(TRAINING_ONLY)


def test_the_check_would_see_tensorflow(bundle_dir):
    assert "tensorflow" in _modules_after("import retrieval.model.fit")


def test_searching_a_loaded_image_index_imports_neither(image_index, tmp_path):
    image_index.save(tmp_path / "images")
    code = (
        f"import numpy as np\nfrom retrieval import ImageIndex\nindex = ImageIndex.load({str(tmp_path / 'images')!r})\n"
        "assert len(index.search(np.zeros((1, 784), dtype=np.float32), 3)[0]) == 3"
    )
    loaded = _modules_after(code)
    assert not loaded & set(TRAINING_ONLY), loaded & set(TRAINING_ONLY)


def test_serving_a_request_imports_neither(bundle_dir, corpus):
    code = (
        "from fastapi.testclient import TestClient\nfrom retrieval.server.app import create_app, load_indexes\n"
        f"app = create_app(load_indexes({{'default': {str(bundle_dir)!r}}}))\n"
        "with TestClient(app) as client:\n"
        f"    assert client.get('/search', params={{'q': {corpus.texts[0]!r}}}).json()['hits']\n"
        "    assert client.get('/?q=x').status_code == 200\n"
        "    assert client.post('/search', json={'queries': ['x']}).status_code == 200"
    )
    loaded = _modules_after(code)
    assert not loaded & set(TRAINING_ONLY), loaded & set(TRAINING_ONLY)


def test_updating_an_index_imports_no_tensorflow(bundle_dir, corpus, tmp_path):
    import shutil

    shutil.copytree(bundle_dir, tmp_path / "index")
    code = (
        "from retrieval import TextIndex\nfrom retrieval.text.corpus import Corpus\n"
        f"index = TextIndex.load({str(tmp_path / 'index')!r})\n"
        f"new = Corpus(doc_ids=['added'], texts=[{corpus.texts[0]!r}], titles=['added'], labels=['topic0'])\n"
        f"index.add(new).remove(['added', {corpus.doc_ids[1]!r}]).save({str(tmp_path / 'index')!r})"
    )
    loaded = _modules_after(code)
    assert not loaded & {"tensorflow", "keras"}, loaded & {"tensorflow", "keras"}
