"""The package's version, in a room of its own so that any module may import it without the
package's face (``deadline_nb/__init__.py``, which sits above every other room).

pyproject.toml holds the same number; ``tests/test_packaging.py`` checks that they agree.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
