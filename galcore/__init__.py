"""Galaxy morphology catalogs from survey images: curation, transfer learning, review."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
