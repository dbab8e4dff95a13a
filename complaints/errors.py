"""Errors the complaints core raises, each naming what was wrong and what would be right.

The web layer and the command line show ``str(error)`` to a person (a dispatcher, a
town clerk editing a CSV file), so every message names the state, action, file, row or
field at fault, and ``code`` gives callers a stable name to branch on instead of parsing
text. Row numbers follow the rest of RedGrid: the spreadsheet's own numbering, header in
row 1, first data row 2, so a clerk can find the row in Excel.
"""

from __future__ import annotations

from collections.abc import Sequence

from geo.errors import RowError


class ComplaintsError(Exception):
    """Base class, so a caller can catch every refusal of this package in one place."""

    code = "complaints_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataFileError(ComplaintsError):
    """A data file refused as a whole: half a holiday schedule or catalogue is worse than none."""

    code = "invalid_data_file"

    def __init__(self, what: str, errors: Sequence[RowError | str]) -> None:
        self.errors = list(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{what}: {len(self.errors)} problem(s), nothing loaded\n{shown}{more}")
