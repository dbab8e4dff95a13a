"""Reading the spreadsheets offices keep: CSV in UTF-8 or GBK, or Excel, with a header row.

Rosters and hotline exports arrive as whatever the office's Excel saved: GBK CSV on
a Chinese Windows, UTF-8 with a byte-order mark, .xlsx renamed to .csv, a title row
above the header, codes and phones stored as numbers. This module turns all of them
into rows of text cells with the spreadsheet's own row numbers, so that errors name
the row a user sees in Excel.

Excel rosters also come with merged cells (a title across the top, a "联系方式" over
手机 | 座机, a unit code merged down the rows of its people): every cell of a merged
range reads as its top-left value, and a header may span two rows (``find_table``).
A workbook can hold one sheet per community (``read_sheets`` reads them all).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
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


def read_cells(
    path: Path, what: str, *, encoding: str | None = None, sheet: str | int | None = None
) -> list[list[str]]:
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


@dataclass(frozen=True)
class Sheet:
    """One table of a file: an Excel sheet (``name``) or the whole CSV (``name`` None)."""

    name: str | None
    rows: list[list[str]]
    encoding: str | None = None  # the CSV's text encoding (None for Excel)
    encoding_reason: str = ""


def read_sheets(
    path: Path, what: str, *, encoding: str | None = None, sheet: str | int | None = None
) -> list[Sheet]:
    """Every sheet of a workbook (or the one named by ``sheet``), or the CSV as one sheet."""
    data = path.read_bytes()
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        names = _sheet_names(path, what)
        if sheet is not None:
            rows = _read_excel(path, what, sheet)  # refuses an unknown sheet, naming the ones there are
            return [Sheet(sheet if isinstance(sheet, str) else names[sheet], rows)]
        return [Sheet(name, _read_excel(path, what, index)) for index, name in enumerate(names)]
    if not data.strip():
        raise FileFormatError(f"{what}: the file is empty")
    text, codec, reason = decode_with_reason(data, what, encoding)
    return [Sheet(None, _csv_rows(text, what), codec, reason)]


def _sheet_names(path: Path, what: str) -> list[str]:
    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except CalamineError as error:
        raise FileFormatError(f"{what}: not a readable Excel file ({error})") from error


def _csv_rows(text: str, what: str) -> list[list[str]]:
    sample = text[:4096]
    delimiter = max(",\t;", key=sample.count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise FileFormatError(f"{what}: not a readable CSV file ({error})") from error
    return [[cell.strip() for cell in cells] for cells in rows]


def _header_keys(text: str) -> list[str]:
    """The header as written, then without a bracketed remark: 联系方式(手机/座机) → 联系方式."""
    key = normalise_header(text)
    bare = normalise_header(re.sub(r"[(（\[【].*?[)）\]】]", "", text))
    return [key, bare] if bare and bare != key else [key]


def find_table(
    rows: list[list[str]], what: str, columns: Mapping[str, Sequence[str]], required: Sequence[str]
) -> tuple[int, dict[str, int], int]:
    """(header row index, field → column, index of the first data row).

    Like ``find_header``, but a header may take two rows, as merged cells make it: a
    parent over its sub-headers (联系方式 over 手机 | 座机, 任职时间 over 开始日期 | 结束日期)
    and cells merged down both rows. For each column the sub-header is used when it is a
    known name, else the parent, else parent and sub-header read together.
    """
    by_header = {normalise_header(alias): field for field, aliases in columns.items() for alias in aliases}
    filled = [i for i, cells in enumerate(rows) if any(cells)][:HEADER_SEARCH_ROWS]
    if not filled:
        raise FileFormatError(f"{what}: the file is empty")

    def field_of(text: str) -> str | None:
        return next((by_header[k] for k in _header_keys(text) if k in by_header), None) if text else None

    def recognised(index: int) -> int:
        return sum(field_of(cell) is not None for cell in rows[index])

    header_index = next((i for i in filled if recognised(i) >= 2), filled[0])
    parent = rows[header_index]
    single = [(col, field_of(cell), cell) for col, cell in enumerate(parent)]
    chosen, first_data = single, header_index + 1
    if header_index + 1 < len(rows):
        sub = rows[header_index + 1]
        width = max(len(parent), len(sub))
        above = ""
        combined = []
        for col in range(width):
            top = parent[col] if col < len(parent) else ""
            below = sub[col] if col < len(sub) else ""
            above = top or above  # a parent merged across columns (no merge info in CSV)
            options = [below, top, above + below] if below else [top]
            hit = next(((field_of(o), o) for o in options if field_of(o) is not None), (None, top))
            combined.append((col, hit[0], hit[1]))
        sub_known = any(field_of(c) is not None or field_of(above + c) is not None for c in sub if c)
        if sub_known and _score(combined) > _score(single):
            chosen, first_data = combined, header_index + 2
    found: dict[str, int] = {}
    for col, field, cell in chosen:
        if field is None:
            continue  # extra columns (序号, 社区名称, …) are kept by the office, not by us
        if field in found:
            first = next(c for k, f, c in chosen if k == found[field])
            raise FileFormatError(
                f"{what}: columns {first.strip()!r} and {cell.strip()!r} in row "
                f"{header_index + 1} both mean {field}; keep one"
            )
        found[field] = col
    missing = [field for field in required if field not in found]
    if missing:
        present = ", ".join(cell.strip() for _, _, cell in chosen if cell.strip())
        accepted = "; ".join(f"{field} = {'/'.join(columns[field])}" for field in missing)
        raise FileFormatError(
            f"{what}: missing column(s) {', '.join(missing)} (header row {header_index + 1} "
            f"has: {present}); accepted headers: {accepted}"
        )
    return header_index, found, first_data


def _score(mapping: list[tuple[int, str | None, str]]) -> int:
    """Distinct fields found, minus those claimed twice (a merged parent over two columns)."""
    fields = [f for _, f, _ in mapping if f is not None]
    return len(set(fields)) - (len(fields) - len(set(fields)))


def find_header(
    rows: list[list[str]], what: str, columns: Mapping[str, Sequence[str]], required: Sequence[str]
) -> tuple[int, dict[str, int]]:
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


def records(
    rows: list[list[str]], header_index: int, columns: Mapping[str, int]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, {field: text}) for each non-empty row under the header."""
    for index in range(header_index + 1, len(rows)):
        cells = rows[index]
        if not any(cells):
            continue
        yield index + 1, {field: cells[col] if col < len(cells) else "" for field, col in columns.items()}


def stream_records(
    path: Path,
    what: str,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    chunk: int = 50_000,
) -> Iterator[list[tuple[int, dict[str, str]]]]:
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
            first = [
                [cell.strip() for cell in cells]
                for _, cells in zip(range(HEADER_SEARCH_ROWS), reader, strict=False)
            ]
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
        raise FileFormatError(
            f"{what}: the file is not all {codec} text ({error}); name its encoding"
        ) from error
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
    return decode_with_reason(data, what, encoding)[0]


def decode_with_reason(data: bytes, what: str, encoding: str | None) -> tuple[str, str, str]:
    """(text, the codec used, why) for a CSV's bytes."""
    if encoding is not None:
        try:
            return data.decode(encoding), encoding, f"named by the user ({encoding})"
        except (UnicodeDecodeError, LookupError) as error:
            raise FileFormatError(f"{what}: cannot read the file as {encoding}: {error}") from error
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig"), "utf-8-sig", "UTF-8 byte-order mark"
    reasons = {
        "utf-8": "the bytes are valid UTF-8",
        "gb18030": "not UTF-8, and valid GB18030 (GBK, as Excel on Chinese Windows saves CSV)",
    }
    for candidate in ("utf-8", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return data.decode(candidate), candidate, reasons[candidate]
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise FileFormatError(
            f"{what}: cannot tell the text encoding (tried UTF-8 and GB18030); "
            "save it as UTF-8 CSV or name the encoding"
        )
    return str(best), best.encoding, f"charset-normalizer's best guess ({best.encoding})"


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
                    f"{what}: no sheet number {index} (0-based); sheets: {', '.join(workbook.sheet_names)}"
                )
            worksheet = workbook.get_sheet_by_index(index)
        # Keep leading empty rows so that row numbers match the ones Excel shows.
        cells = worksheet.to_python(skip_empty_area=False)
        merged = worksheet.merged_cell_ranges or []
    except CalamineError as error:
        raise FileFormatError(f"{what}: not a readable Excel file ({error})") from error
    rows = [[excel_text(value) for value in row] for row in cells]
    return _fill_merged(rows, merged)


def _fill_merged(
    rows: list[list[str]], merged: Sequence[tuple[tuple[int, int], tuple[int, int]]]
) -> list[list[str]]:
    """Every cell of a merged range reads as its top-left cell, as the user sees it in Excel."""
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                if not row[c]:
                    row[c] = value
    return rows


def excel_text(value: object) -> str:
    """A cell as the text the user typed: codes and phones stored as numbers become digits."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # exact: 15-digit codes are far below 2**53
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.time() else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()
