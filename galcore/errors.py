"""Exceptions raised by galcore; the CLI reports each as one line and exits 1."""

from __future__ import annotations

__all__ = [
    "CurationError",
    "CurationWarning",
    "EngineError",
    "GalcoreError",
    "MissingBandError",
    "MissingInputError",
    "NotFittedError",
    "OffFrameError",
    "ServeError",
    "SkyError",
    "TrainingError",
    "UnitsError",
    "UnreadableFileError",
]


class GalcoreError(Exception):
    """Base class of every error galcore reports to a user."""


class EngineError(GalcoreError):
    """The Dask cluster could not be reached or started, or its arguments are wrong."""


class SkyError(GalcoreError, ValueError):
    """Bad arguments for the synthetic sky."""


class MissingInputError(GalcoreError, FileNotFoundError):
    """A survey file or folder that the command needs is not there."""


class CurationError(GalcoreError, ValueError):
    """One object could not be curated: the message names the object, the file and the reason."""

    reason = "curation_failed"


class MissingBandError(CurationError):
    """The frame or tile of one band is not among the input files."""

    reason = "missing_band"


class OffFrameError(CurationError):
    """The cutout does not lie wholly on the frame or tile."""

    reason = "off_frame"


class UnreadableFileError(CurationError):
    """A survey file exists but cannot be read as the format it claims."""

    reason = "unreadable_file"


class UnitsError(CurationError):
    """A survey image's units cannot be established, so it cannot be put on the flux scale."""

    reason = "unknown_units"


class TrainingError(GalcoreError, ValueError):
    """A run cannot be trained, predicted or evaluated as asked."""


class ServeError(GalcoreError, ValueError):
    """The dashboard cannot be served as asked (e.g. unreadable logins)."""


class NotFittedError(GalcoreError, AttributeError):
    """An estimator was used before `fit`."""


class CurationWarning(UserWarning):
    """Some objects could not be curated; they stay in the store with their reason."""
