"""Package names imported on first use, so that importing a package stays cheap."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, namespace: dict, exports: dict):
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path) on first use of ``name``."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value  # later lookups skip this function
        return value

    return __getattr__
