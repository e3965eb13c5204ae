"""How ``retrieval serve`` listens and what it accepts (``ServeConfig``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from retrieval.config.checks import _positive
from retrieval.errors import RetrievalError

LOCAL_HOSTS = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """The server's address, its request limits and its key.

    Parameters
    ----------
    host, port : where to listen; 127.0.0.1 unless told otherwise.
    max_k : most hits a request may ask for.
    max_rerank : most candidates a request may ask to re-rank.
    max_query_bytes : longest query text, in UTF-8 bytes.
    max_batch : most queries in one ``POST /search``.
    api_key : when set, every request but ``/health`` must carry it.
        Binding to an address other than loopback requires one.
    reload_interval : seconds between checks for a rebuilt index directory.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_k: int = 100
    max_rerank: int = 1000
    max_query_bytes: int = 65536
    max_batch: int = 64
    api_key: str | None = field(default=None, repr=False)
    reload_interval: float = 0.25

    def __post_init__(self):
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise RetrievalError(f"--port must be a whole number from 1 to 65535; got {self.port!r}")
        for name in ("max_k", "max_rerank", "max_query_bytes", "max_batch", "reload_interval"):
            _positive(f"--{name.replace('_', '-')}", getattr(self, name))
        if self.api_key is not None and len(self.api_key) < 16:
            raise RetrievalError(
                "the API key (RETRIEVAL_API_KEY or --api-key) must be at least 16 characters (a long random string, "
                "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
            )
        if self.api_key is None and not is_loopback(self.host):
            raise RetrievalError(
                f"--host {self.host} lets other machines reach the index: give a key in "
                "RETRIEVAL_API_KEY (or --api-key, which every user of this machine can read in "
                "the process list) as well, or serve on 127.0.0.1"
            )

    @property
    def max_body_bytes(self) -> int:
        """The largest ``POST /search`` body: a full batch of the longest queries with room for JSON's escapes
        (``\\uXXXX`` for a character of 2 or 3 UTF-8 bytes is 3 or 2 times as long), and 64 KiB for the rest."""
        return 3 * self.max_batch * self.max_query_bytes + 65536
