"""Reading the small CSV files a town edits by hand (holiday schedules, the catalogue).

They are edited in Excel, so the reader accepts what Excel writes (a UTF-8 byte-order
mark, stray spaces, blank lines, extra columns for the clerk's own notes) and refuses
what it cannot read with a message that says how to fix it, rather than a traceback.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from complaints.errors import DataFileError


def read_table(
    path: Path,
    columns: Sequence[str],
    error: type[DataFileError],
    what: str,
    optional: Sequence[str] = (),
) -> list[tuple[int, dict[str, str]]]:
    """Each non-blank data row as (spreadsheet row number, {column: stripped text}).

    Raises ``error(what, …)`` when the file is missing, not UTF-8, or lacks a column.
    ``optional`` columns may be absent: each row then has "" for them.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise error(what, [f"{path.name}: file not found in {path.parent}"]) from None
    except UnicodeDecodeError:
        # Excel on a Chinese Windows saves "CSV" as GBK unless told otherwise.
        raise error(what, [f"{path.name}: not UTF-8 text; save it from Excel as 'CSV UTF-8'"]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [c for c in columns if c not in header]
    if missing:
        found = ", ".join(h for h in header if h) or "nothing"
        raise error(what, [f"{path.name}: missing column(s) {', '.join(missing)} (found: {found})"])
    index = {column: header.index(column) for column in columns}
    index.update({column: header.index(column) for column in optional if column in header})
    absent = {column: "" for column in optional if column not in header}
    rows: list[tuple[int, dict[str, str]]] = []
    overflowing: list[str] = []
    for row_number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if any(cell.strip() for cell in cells[len(header) :]):
            # an unquoted comma inside a cell: the text after it would be lost without a word
            overflowing.append(
                f"{path.name} row {row_number}: {len(cells)} cells for {len(header)} columns; "
                "put a cell that contains a comma in double quotes"
            )
        values = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
        rows.append((row_number, {**values, **absent}))
    if overflowing:
        raise error(what, overflowing)
    return rows
