"""The package version, on the ground floor so that any module may import it.

Kept equal to ``version`` in ``pyproject.toml`` (a test checks it).
"""

from __future__ import annotations

__version__ = "0.1.0"
