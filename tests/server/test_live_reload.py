"""A rebuilt directory that fails to load: the answering generation stays, the load is retried with backoff, and
/health says ``degraded`` (with no filesystem path for a client without the key)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from retrieval.config import ServeConfig
from retrieval.server.app import create_app
from retrieval.server.live import RETRY_SECONDS, LiveIndex

KEY = "k" * 12 + "-secret-key"


def _list_a_missing_file(path) -> bytes:
    """Rewrite the manifest to list a file the directory lacks (a new stamp, a load that fails); the old bytes."""
    manifest_path = path / "manifest.json"
    before = manifest_path.read_bytes()
    manifest = json.loads(before)
    manifest["files"]["ghost.bin"] = {"bytes": 1, "sha256": "0" * 64}
    manifest_path.write_text(json.dumps(manifest))
    return before


def test_a_failed_load_keeps_the_generation_and_is_retried_with_backoff(copy_dir):
    live = LiveIndex("default", copy_dir)
    first, loads = live.current, []
    load = live._load
    live._load = lambda: loads.append(1) or load()
    original = _list_a_missing_file(copy_dir)
    assert not live.refresh(now=100.0)
    assert live.current is first and "ghost.bin is missing" in live.reload_error and len(loads) == 1
    assert not live.refresh(now=100.0 + RETRY_SECONDS[0] / 2) and len(loads) == 1  # not yet
    assert not live.refresh(now=100.0 + RETRY_SECONDS[0]) and len(loads) == 2  # tried again, still broken
    assert not live.refresh(now=100.0 + RETRY_SECONDS[0] + RETRY_SECONDS[1] / 2) and len(loads) == 2  # backing off
    (copy_dir / "manifest.json").write_bytes(original)  # repaired: a new stamp is tried at once
    live.refresh(now=100.0 + RETRY_SECONDS[0] + 0.1)
    assert len(loads) == 3 and live.reload_error is None and live.current.id == first.id


def test_a_failure_of_any_kind_keeps_the_generation(copy_dir):
    live = LiveIndex("default", copy_dir)
    first = live.current

    def broken():
        raise ZeroDivisionError("boom")

    live._load = broken
    _list_a_missing_file(copy_dir)
    assert not live.refresh(now=0.0)
    assert live.current is first and live.reload_error == "ZeroDivisionError: boom"


def test_health_says_degraded_and_shows_paths_only_with_the_key(copy_dir):
    live = LiveIndex("default", copy_dir)
    _list_a_missing_file(copy_dir)
    live.refresh(now=0.0)
    assert str(copy_dir) in live.reload_error
    config = ServeConfig(api_key=KEY)
    with TestClient(create_app({"default": live}, config, watch=False)) as client:
        body = client.get("/health").json()
        assert body["status"] == "degraded" and "ghost.bin is missing" in body["reload_error"]
        assert str(copy_dir) not in body["reload_error"] and "<index default>" in body["reload_error"]
        body = client.get("/health", headers={"X-API-Key": KEY}).json()
        assert str(copy_dir) in body["reload_error"]
        body = client.get("/health", headers={"X-API-Key": "x" * 20}).json()  # a wrong key is no key
        assert str(copy_dir) not in body["reload_error"]
    with TestClient(create_app({"default": live}, ServeConfig(), watch=False)) as client:  # loopback, no key
        assert str(copy_dir) in client.get("/health").json()["reload_error"]
