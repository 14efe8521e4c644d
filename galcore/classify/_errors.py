"""Why a file cannot be classified: each error's `reason` is the file's status."""

from __future__ import annotations

from galcore.errors import CurationError

__all__ = ["MissingFileError", "NoDataError", "UnsupportedFormatError", "WrongShapeError"]


class MissingFileError(CurationError):
    """The file does not exist."""

    reason = "missing_file"


class UnsupportedFormatError(CurationError):
    """The file's name is not that of a FITS, PNG or JPEG file."""

    reason = "unsupported_format"


class WrongShapeError(CurationError):
    """The file holds no image of a shape that can be classified."""

    reason = "wrong_shape"


class NoDataError(CurationError):
    """The image has no finite pixel, or nothing but its sky."""

    reason = "no_data"
