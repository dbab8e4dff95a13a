"""CSV for people: cells a spreadsheet would run as a formula are neutralised.

Excel, WPS and LibreOffice treat a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
in some versions, a tab or carriage return before one of those) as a formula, so a complaint
text or a grid name typed as ``=HYPERLINK(...)`` would run on the clerk's machine when the
export is opened (CSV injection). Every CSV export meant to be opened by a person goes
through ``safe_frame`` or ``safe_csv``: such text cells get a leading single quote, which the
spreadsheet shows as text. Numbers are left alone (a negative count or slope stays a number);
machine-to-machine CSV (batch lookups) is not touched, since programs read it literally.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text value with a leading ``'`` when a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its text cells (and column names) neutralised; numbers untouched."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(safe_cell)
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame, **to_csv: Any) -> str:
    """``frame.to_csv`` (as text) with formula-like text cells neutralised."""
    buffer = io.StringIO()
    safe_frame(frame).to_csv(buffer, **to_csv)
    return buffer.getvalue()
