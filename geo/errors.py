"""Errors the spatial core raises, each naming what was wrong and what was expected.

The web layer maps each class to an HTTP status and a stable ``code``; the
command line prints ``str(error)``. Messages are for people, so they name the
row, field or coordinate at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GeoError(Exception):
    """Base class: ``code`` is a stable machine-readable name for the fault."""

    code = "geo_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidCoordinates(GeoError):
    """A coordinate pair that cannot be located (NaN, out of range, swapped, far away)."""

    code = "invalid_coordinates"


class UnknownCoordSys(GeoError):
    """A coordinate system or CRS name that is neither a named datum nor a PROJ CRS."""

    code = "unknown_coordsys"


class MissingCRS(GeoError):
    """A file that does not declare its CRS, with none named by the user."""

    code = "missing_crs"
    #: the CRS the bare coordinates look like (``geo.chinese_crs.guess_crs``), when one was guessed
    suggested_crs: str | None = None


class FileFormatError(GeoError):
    """A file that cannot be read, or lacks a required column."""

    code = "file_format"


@dataclass(frozen=True)
class RowError:
    """One fault in one field of one row of a tabular file, for RedGrid's every data file.

    ``row`` is the number a person finds the row by (each reader says which numbering it
    uses); ``file`` names the file when one error list covers several (a catalogue, a
    folder of holiday schedules), and is left out when the caller's message names it.
    """

    row: int
    field: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file} row {self.row}" if self.file else f"row {self.row}"
        return f"{where}, field {self.field!r}: {self.message}"


class RowErrors(GeoError):
    """A file refused because of faults in its rows; nothing from it was stored."""

    code = "invalid_rows"

    def __init__(self, what: str, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{what}: {len(self.errors)} problem(s), nothing imported\n{shown}{more}")
