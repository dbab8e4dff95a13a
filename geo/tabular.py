"""Reading the spreadsheets offices keep: CSV in UTF-8 or GBK, or Excel, with a header row.

Rosters and hotline exports arrive as whatever the office's Excel saved: GBK CSV on
a Chinese Windows, UTF-8 with a byte-order mark, .xlsx renamed to .csv, a title row
above the header, codes and phones stored as numbers. This module turns all of them
into rows of text cells with the spreadsheet's own row numbers, so that errors name
the row a user sees in Excel.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import unicodedata
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import charset_normalizer
from python_calamine import CalamineError
from python_calamine import CalamineWorkbook

from geo.errors import FileFormatError

HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common; more is not a table


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read in blocks: what an import records to recognise a re-run."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalise_header(text: str) -> str:
    return re.sub(r"[\s_\-*:：\ufeff]", "", unicodedata.normalize("NFKC", text)).casefold()


def read_cells(path: Path, what: str, *, encoding: str | None = None,
               sheet: str | int | None = None) -> list[list[str]]:
    """The file's cells as text, one list per spreadsheet row starting at row 1."""
    data = path.read_bytes()
    # Decide by content, not by name: offices rename .xlsx files to .csv and back.
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return _read_excel(path, what, sheet)
    if not data.strip():
        raise FileFormatError(f"{what}: the file is empty")
    text = decode(data, what, encoding)
    sample = text[:4096]
    delimiter = max(",\t;", key=sample.count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise FileFormatError(f"{what}: not a readable CSV file ({error})") from error
    return [[cell.strip() for cell in cells] for cells in rows]


def find_header(rows: list[list[str]], what: str, columns: Mapping[str, Sequence[str]],
                required: Sequence[str]) -> tuple[int, dict[str, int]]:
    """The header row's index and each field's column; the header may sit below a title.

    ``columns`` maps each field to the header names that mean it.
    """
    by_header = {normalise_header(alias): field for field, aliases in columns.items() for alias in aliases}
    filled = [i for i, cells in enumerate(rows) if any(cells)][:HEADER_SEARCH_ROWS]
    if not filled:
        raise FileFormatError(f"{what}: the file is empty")

    def recognised(index: int) -> int:
        return sum(normalise_header(cell) in by_header for cell in rows[index])

    header_index = next((i for i in filled if recognised(i) >= 2), filled[0])
    found: dict[str, int] = {}
    for col, cell in enumerate(rows[header_index]):
        field = by_header.get(normalise_header(cell))
        if field is None:
            continue  # extra columns (序号, 社区名称, …) are kept by the office, not by us
        if field in found:
            first = rows[header_index][found[field]]
            raise FileFormatError(
                f"{what}: columns {first.strip()!r} and {cell.strip()!r} in row "
                f"{header_index + 1} both mean {field}; keep one"
            )
        found[field] = col
    missing = [field for field in required if field not in found]
    if missing:
        present = ", ".join(cell.strip() for cell in rows[header_index] if cell.strip())
        accepted = "; ".join(f"{field} = {'/'.join(columns[field])}" for field in missing)
        raise FileFormatError(
            f"{what}: missing column(s) {', '.join(missing)} (header row {header_index + 1} "
            f"has: {present}); accepted headers: {accepted}"
        )
    return header_index, found


def records(rows: list[list[str]], header_index: int, columns: Mapping[str, int]):
    """(spreadsheet row number, {field: text}) for each non-empty row under the header."""
    for index in range(header_index + 1, len(rows)):
        cells = rows[index]
        if not any(cells):
            continue
        yield index + 1, {field: cells[col] if col < len(cells) else "" for field, col in columns.items()}


def stream_records(path: Path, what: str, columns: Mapping[str, Sequence[str]], required: Sequence[str], *,
                   encoding: str | None = None, sheet: str | int | None = None, chunk: int = 50_000):
    """Like ``records`` over ``read_cells``, but in chunks and without holding a big CSV in memory.

    Yields lists of (spreadsheet row number, {field: text}). Excel sheets are read whole
    (a sheet holds at most about a million rows); CSV files are decoded as they are read.
    """
    with path.open("rb") as fh:
        head = fh.read(65536)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or not head.strip():
        rows = read_cells(path, what, encoding=encoding, sheet=sheet)
        header_index, found = find_header(rows, what, columns, required)
        batch = []
        for item in records(rows, header_index, found):
            batch.append(item)
            if len(batch) >= chunk:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    codec = encoding or _sniff_encoding(head, what)
    try:
        with path.open("r", encoding=codec, newline="") as text:
            sample = text.read(4096)
            text.seek(0)
            delimiter = max(",\t;", key=sample.count)
            reader = csv.reader(text, delimiter=delimiter)
            first = [[cell.strip() for cell in cells] for _, cells in zip(range(HEADER_SEARCH_ROWS), reader,
                                                                           strict=False)]
            header_index, found = find_header(first, what, columns, required)
            batch = list(records(first, header_index, found))
            for number, cells in enumerate(reader, start=len(first) + 1):
                if not any(c.strip() for c in cells):
                    continue
                values = {f: cells[c].strip() if c < len(cells) else "" for f, c in found.items()}
                batch.append((number, values))
                if len(batch) >= chunk:
                    yield batch
                    batch = []
            if batch:
                yield batch
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{what}: the file is not all {codec} text ({error}); name its encoding") \
            from error
    except csv.Error as error:
        raise FileFormatError(f"{what}: not a readable CSV file ({error})") from error


def _sniff_encoding(head: bytes, what: str) -> str:
    """UTF-8 or GB18030, judged on the first 64 KB (cut at a line end to avoid a split character)."""
    sample = head[: head.rfind(b"\n") + 1] or head
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            sample.decode(candidate)
            return candidate
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise FileFormatError(f"{what}: cannot tell the text encoding (tried UTF-8 and GB18030)")
    return best.encoding


def decode(data: bytes, what: str, encoding: str | None) -> str:
    if encoding is not None:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise FileFormatError(f"{what}: cannot read the file as {encoding}: {error}") from error
    for candidate in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise FileFormatError(
            f"{what}: cannot tell the text encoding (tried UTF-8 and GB18030); "
            "save it as UTF-8 CSV or name the encoding"
        )
    return str(best)


def _read_excel(path: Path, what: str, sheet: str | int | None) -> list[list[str]]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if isinstance(sheet, str):
            if sheet not in workbook.sheet_names:
                raise FileFormatError(
                    f"{what}: no sheet {sheet!r}; sheets: {', '.join(workbook.sheet_names)}"
                )
            worksheet = workbook.get_sheet_by_name(sheet)
        else:
            index = sheet or 0
            if not 0 <= index < len(workbook.sheet_names):
                raise FileFormatError(
                    f"{what}: no sheet number {index} (0-based); "
                    f"sheets: {', '.join(workbook.sheet_names)}"
                )
            worksheet = workbook.get_sheet_by_index(index)
        # Keep leading empty rows so that row numbers match the ones Excel shows.
        cells = worksheet.to_python(skip_empty_area=False)
    except CalamineError as error:
        raise FileFormatError(f"{what}: not a readable Excel file ({error})") from error
    return [[excel_text(value) for value in row] for row in cells]


def excel_text(value: object) -> str:
    """A cell as the text the user typed: codes and phones stored as numbers become digits."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # exact: 15-digit codes are far below 2**53
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.time() else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()
