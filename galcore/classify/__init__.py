"""Classify cutouts a user already has with a run's model, prepared as the catalog's images.

Every file becomes a uint8 RGB image made the way `galcore curate` makes the catalog's images,
which is then resized to the model's input exactly as `galcore predict` resizes catalog images
(float32 in [0, 255], bilinear with antialiasing, untouched when the size already matches) and
classified without augmentation.

PNG and JPEG (8-bit RGB or greyscale) are taken as already stretched: their pixels are used as
they are (greyscale repeated into R, G and B).

FITS: the image is the ``SCI`` HDU if there is one, else the primary HDU, else HDU 1: 2-D (one
band, shown in grey) or a cube of 3 bands read as g, r, i (shown as RGB = i, r, g, like the
catalog).

- Flux scale. A ``BUNIT`` in nanomaggies (per pixel; divided by the pixel area from the WCS)
  or nanomaggies per arcsec^2, or a DES ``MAGZERO`` (counts per pixel), puts the image on the
  catalog's scale, surface brightness in nanomaggies per arcsec^2 (as `galcore.surveys` reads
  SDSS frames and DES tiles), and the catalog's own asinh `galcore.curation.ColourStretch`
  (recorded in the catalog's ``curation`` attribute) makes it uint8. When the units cannot be
  established (no such keyword, or flux per pixel without a WCS), the image is not guessed onto
  that scale: each band's median (the sky) is subtracted and the same asinh stretch is given
  the range that makes the image's 99.5th intensity percentile as bright as it is in the
  catalog's images; the row's ``note`` says so, and its status is still ``ok``.
- Geometry. With a celestial WCS, the bands are resampled by the curation's
  `galcore.curation.cutout` onto the catalog's north-up grid: the catalog's image size, its
  cutout side on the sky (``curation.field_arcsec`` in the catalog's attributes; the
  `galcore.curation.CurationConfig` default when a catalog does not record it, noted), centred
  on the image centre. Parts of that field that the file does not cover are 0 (the sky), noted.
  Without a WCS the whole image is resized to the model input, noted: its angular size is
  unknown.

A file that cannot be classified gets a status instead of ``ok``: ``missing_file``,
``unsupported_format`` (a name not ending in a FITS, PNG or JPEG suffix), ``unreadable_file``
(corrupt, truncated, empty, not the format its name says), ``wrong_shape`` (no 2-D image, a cube
of other than 1 or 3 bands, a 16-bit or float PNG), ``no_data`` (a band without one finite
pixel, or a flat image of unknown units) or ``off_frame``; its ``reason`` says what is wrong.
"""

from __future__ import annotations

from galcore.classify._classify import (
    COLUMNS,
    Classification,
    classify_files,
    write_classifications,
)
from galcore.classify._prepare import Preparation, PreparedImage

__all__ = [
    "COLUMNS",
    "Classification",
    "Preparation",
    "PreparedImage",
    "classify_files",
    "write_classifications",
]
