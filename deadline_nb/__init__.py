"""deadline_nb: investigate AWS Deadline Cloud render jobs in JupyterLab.

Session actions (GetSessionAction, BatchGetSessionAction, ListSessionActions results) become pandas
DataFrames with stable columns and dtypes; see :func:`session_action_frame`.

Nothing heavy is imported here: the public names load their module on first use, so that
``import deadline_nb`` stays fast in a notebook and in the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "session_action_frame": "frames",
    "parameter_frame": "frames",
    "limit_frame": "frames",
    "manifest_frame": "frames",
    "session_frame": "frames",
    "read_json": "frames",
    "write_json": "frames",
    "read_parquet": "frames",
}
_SUBMODULES = ("schema", "frames", "localfarm")

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:
    from . import frames, localfarm, schema
    from .frames import (
        limit_frame,
        manifest_frame,
        parameter_frame,
        read_json,
        read_parquet,
        session_action_frame,
        session_frame,
        write_json,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'deadline_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
