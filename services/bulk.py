"""Bulk lookups of a CSV file: chunked, with progress, resumable after a crash.

The output is written to ``DST.partial`` and renamed when complete, so a crashed run
never leaves a half file under the final name; a resumed run keeps the rows the partial
file already holds and cuts a half-written last row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from geo.crs import normalise_coordsys
from services import batch_io
from services.errors import Invalid
from services.grids import GridService

Progress = Callable[[str, int, int], None]


def locate_csv(
    grids: GridService,
    src: str | Path,
    dst: str | Path,
    *,
    coordsys: str = "wgs84",
    version_id: int | None = None,
    resume: bool = False,
    chunk: int = 200_000,
    progress: Progress | None = None,
    note: Callable[[str], None] | None = None,
) -> int:
    """Locate every point of a CSV (columns lon, lat[, id]) into a CSV of answers; rows written."""
    coordsys = normalise_coordsys(coordsys)
    grid_set = grids.grid_set(grids.resolve_version(version_id))
    partial = Path(str(dst) + ".partial")
    done = 0
    if resume and partial.exists():
        _drop_torn_row(partial)
        done = max(_count_lines(partial) - 1, 0)
        if note:
            note(f"resuming after {done} rows")
    elif partial.exists():
        partial.unlink()
    total = max(_count_lines(Path(src)) - 1, 0)
    start = time.perf_counter()
    offset = done
    with (
        partial.open("ab") as out,
        pd.read_csv(
            src,
            dtype=str,
            chunksize=chunk,
            encoding="utf-8-sig",
            keep_default_na=False,
            skiprows=range(1, done + 1),
        ) as reader,
    ):
        writer = batch_io.CsvWriter()
        for frame in reader:
            try:
                lon, lat, ids = batch_io.columns(frame, "CSV rows")
            except Invalid as exc:
                raise Invalid(f"{src}: {exc.message}", field="lon") from exc
            piece = batch_io.Chunk(offset, lon, lat, ids)
            _, match, wlon, wlat = grids.locate_many(lon, lat, coordsys=coordsys, version=grid_set.version.id)
            # the header goes only into an empty file (a resumed file may hold it and nothing else)
            out.write(writer.rows(piece, wlon, wlat, match, grid_set, first=out.tell() == 0))
            out.flush()
            offset += len(frame)
            if progress:
                rate = (offset - done) / max(time.perf_counter() - start, 1e-9)
                progress(f"rows ({rate:,.0f}/s)", offset, total)
    partial.replace(dst)
    return offset


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _drop_torn_row(path: Path) -> None:
    """Cut a half-written last row (a run killed mid-write) so that a resumed run redoes it."""
    with path.open("r+b") as fh:
        end = fh.seek(0, 2)
        pos = end
        while pos > 0:
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            cut = fh.read(step).rfind(b"\n")
            if cut >= 0:
                if pos - step + cut + 1 < end:
                    fh.truncate(pos - step + cut + 1)
                return
            pos -= step
        fh.truncate(0)
