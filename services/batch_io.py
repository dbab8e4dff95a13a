"""Batch point-in-grid formats: readers yield chunks of points, writers stream answers.

Readers never build one Python object per point: JSON arrays are decoded by
orjson into lists that numpy turns into arrays at once, CSV is parsed by pandas
in chunks straight from the request stream, Arrow record batches arrive as
columns. Writers emit one chunk at a time, so a million answers are never held
in memory together. Arrow in and out is the format to use beyond about
1 M points/s, where text parsing becomes the limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from typing import TYPE_CHECKING
from typing import Protocol

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
from numpy.typing import ArrayLike

from geo.lookup import BatchMatch
from geo.lookup import Status
from services.errors import Invalid
from services.errors import UnsupportedType

if TYPE_CHECKING:  # only the types are needed here
    from services.grids import GridSet

CHUNK = 100_000
ARROW = "application/vnd.apache.arrow.stream"
PARQUET = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")
STREAMED = ("text/csv", ARROW)  # these may also be read from a stream, chunk by chunk

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
ID_NAMES = ("id", "ref", "编号")
STATUS_LABELS = np.array([s.label for s in Status], dtype=object)


@dataclass
class Chunk:
    offset: int  # row number of the first point (0-based) in the whole input
    lon: np.ndarray
    lat: np.ndarray
    ids: np.ndarray | None


def reader_for(mimetype: str, stream: IO[bytes], get_data: Callable[[], bytes] | None) -> Iterator[Chunk]:
    """Chunks of points from a request body.

    With ``get_data`` (the whole body) every format is read from memory: the API reads the body
    whole (at most ``BATCH_MAX_BYTES``) before it answers, so a client that sends everything before
    reading (requests, http.client) cannot deadlock against an answer streaming back. ``get_data``
    may be None only for the ``STREAMED`` types, which are then read from ``stream`` chunk by chunk.
    """
    if mimetype in ("application/json", "application/geo+json"):
        return _chunks(*_from_json(_whole_body(mimetype, get_data)))
    if mimetype == "text/csv":
        return _from_csv(stream if get_data is None else io.BytesIO(get_data()))
    if mimetype == ARROW:
        return _from_arrow(stream if get_data is None else pa.BufferReader(get_data()))
    if mimetype in PARQUET:
        return _from_parquet(_whole_body(mimetype, get_data))
    raise UnsupportedType(
        f"unsupported Content-Type {mimetype!r}; send application/json, application/geo+json, "
        f"text/csv, {ARROW} or {PARQUET[0]}",
        code="unsupported_media_type",
    )


def _whole_body(mimetype: str, get_data: Callable[[], bytes] | None) -> bytes:
    if get_data is None:
        raise TypeError(f"{mimetype} is read whole: reader_for needs get_data")
    return get_data()


def _chunks(lon: np.ndarray, lat: np.ndarray, ids: np.ndarray | None) -> Iterator[Chunk]:
    for start in range(0, len(lon), CHUNK):
        stop = start + CHUNK
        yield Chunk(start, lon[start:stop], lat[start:stop], None if ids is None else ids[start:stop])


def _from_json(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"request body is not valid JSON: {exc}", code="bad_json") from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        return _from_features(doc.get("features") or [])
    if isinstance(doc, dict) and "points" in doc:
        doc = doc["points"]
    if not isinstance(doc, list):
        raise Invalid(
            "expected a JSON array of [lon, lat] pairs or of {id, lon, lat} objects, "
            "or a GeoJSON FeatureCollection of points",
            code="bad_json",
        )
    if not doc:
        return np.empty(0), np.empty(0), None
    if isinstance(doc[0], list):
        try:
            xy = np.asarray(doc, dtype="float64")
        except (ValueError, TypeError, OverflowError) as exc:
            raise Invalid("every element must be a [lon, lat] pair of numbers", code="bad_json") from exc
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise Invalid("every element must be a [lon, lat] pair", code="bad_json")
        return xy[:, 0], xy[:, 1], None
    try:
        frame = pd.DataFrame.from_records(doc)
    except (ValueError, TypeError) as exc:
        raise Invalid(
            f"the JSON objects do not form a table: {exc}", code="bad_json", field="points"
        ) from exc
    return columns(frame, "JSON objects")


def _from_features(features: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon = np.full(len(features), np.nan)
    lat = np.full(len(features), np.nan)
    ids = np.empty(len(features), dtype=object)
    if not isinstance(features, list):
        raise Invalid("features must be a list of Point features", code="bad_geojson", field="features")
    for i, f in enumerate(features):  # GeoJSON nests each point; there is no columnar shortcut
        geom = (f.get("geometry") if isinstance(f, dict) else None) or {}
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            kind = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
            raise Invalid(
                f"feature {i}: expected a Point geometry, got {kind!r}", code="bad_geojson", field="features"
            )
        try:
            lon[i], lat[i] = geom["coordinates"][:2]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise Invalid(
                f"feature {i}: coordinates must be [lon, lat] numbers", code="bad_geojson", field="features"
            ) from exc
        props = f.get("properties")
        ids[i] = f.get("id", props.get("id") if isinstance(props, dict) else None)
    return lon, lat, ids


def columns(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col is None or lat_col is None:
        raise Invalid(
            f"{what} need lon and lat columns (accepted names: {', '.join(LON_NAMES)} / "
            f"{', '.join(LAT_NAMES)}); found {', '.join(map(str, frame.columns))}",
            code="missing_columns",
        )
    id_col = next((lower[n] for n in ID_NAMES if n in lower), None)
    try:
        lon = _numbers(frame[lon_col])
        lat = _numbers(frame[lat_col])
        ids = None if id_col is None else frame[id_col].astype("string").to_numpy(dtype=object, na_value=None)
    except (ValueError, TypeError, OverflowError) as exc:
        raise Invalid(f"{what}: lon, lat and id must be numbers or text ({exc})", code="bad_values") from exc
    return lon, lat, ids


def _numbers(column: pd.Series | pd.DataFrame) -> np.ndarray:
    """A column as floats; what is not a number (text, objects, lists) becomes NaN, not an error."""
    if isinstance(column, pd.DataFrame):  # two columns of the same name
        column = column.iloc[:, 0]
    try:
        return pd.to_numeric(column, errors="coerce").to_numpy("float64", na_value=np.nan)
    except (TypeError, ValueError):  # objects or lists among the values: those are not numbers
        values = column.map(lambda v: v if isinstance(v, str | int | float | None) else None)
        return pd.to_numeric(values, errors="coerce").to_numpy("float64", na_value=np.nan)


def _from_csv(stream: IO[bytes]) -> Iterator[Chunk]:
    offset = 0
    try:
        reader = pd.read_csv(stream, chunksize=CHUNK, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        for frame in reader:
            lon, lat, ids = columns(frame, "CSV rows")
            yield Chunk(offset, lon, lat, ids)
            offset += len(frame)
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError) as exc:
        raise Invalid(f"CSV after row {offset}: {exc}", code="bad_csv") from exc


def _from_arrow(stream: IO[bytes] | pa.BufferReader) -> Iterator[Chunk]:
    try:
        reader = pyarrow.ipc.open_stream(stream)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Invalid(f"not an Arrow IPC stream: {exc}", code="bad_arrow") from exc
    try:
        yield from _from_batches(reader)
    except (pa.ArrowException, OSError) as exc:
        raise Invalid(f"the Arrow IPC stream breaks off or is corrupt: {exc}", code="bad_arrow") from exc


def _from_parquet(data: bytes) -> Iterator[Chunk]:
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise Invalid(f"not a Parquet file: {exc}", code="bad_parquet") from exc
    try:
        yield from _from_batches(parquet.iter_batches(batch_size=CHUNK))
    except (pa.ArrowException, OSError) as exc:
        raise Invalid(f"the Parquet file is corrupt: {exc}", code="bad_parquet") from exc


def _from_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[Chunk]:
    offset = 0
    for batch in batches:
        names = {n.lower(): n for n in batch.schema.names}
        lon_n = next((names[n] for n in LON_NAMES if n in names), None)
        lat_n = next((names[n] for n in LAT_NAMES if n in names), None)
        if lon_n is None or lat_n is None:
            raise Invalid(
                f"Arrow/Parquet input needs lon and lat columns; found {', '.join(batch.schema.names)}",
                code="missing_columns",
            )
        id_n = next((names[n] for n in ID_NAMES if n in names), None)
        try:
            lon = _arrow_numbers(batch.column(lon_n))
            lat = _arrow_numbers(batch.column(lat_n))
            ids = (
                None
                if id_n is None
                else np.asarray(batch.column(id_n).cast(pa.string()).to_pylist(), dtype=object)
            )
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise Invalid(
                f"Arrow/Parquet columns {lon_n}, {lat_n} must be numbers (or numeric text) and "
                f"{id_n or 'id'} text or numbers: {exc}",
                code="bad_values",
            ) from exc
        yield Chunk(offset, lon, lat, ids)
        offset += batch.num_rows


def _arrow_numbers(column: pa.Array) -> np.ndarray:
    """An Arrow column as floats: numbers as they are, text parsed (what is not a number is NaN)."""
    if (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_decimal(column.type)
    ):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if (
        pa.types.is_string(column.type)
        or pa.types.is_large_string(column.type)
        or pa.types.is_null(column.type)
    ):
        return pd.to_numeric(pd.Series(column.to_pylist(), dtype=object), errors="coerce").to_numpy(
            "float64", na_value=np.nan
        )
    raise TypeError(f"a column of type {column.type}")


# --- writers ------------------------------------------------------------------------------


def _with_none(values: ArrayLike) -> np.ndarray:
    """The values, flattened, and a trailing None, as an object array (what ``np.append(values,
    None)`` gives): position -1 reads the None."""
    return np.concatenate([np.ravel(values), np.array([None], dtype=object)])


#: the columns of ``fields=grid``: what the fastest path computes (no annotations: a point's
#: runner-up, nearest grid and touching grids are not looked for, so they are not sent as if
#: there were none)
GRID_FIELDS = ("row", "id", "status", "grid_code", "grid_name", "community_code")


def answer_columns(
    chunk: Chunk,
    wlon: np.ndarray,
    wlat: np.ndarray,
    match: BatchMatch,
    grid_set: GridSet,
    fields: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """The answer table of one chunk as columns (None where a value does not apply); ``fields``
    names the columns wanted (all by default)."""
    codes = _with_none(grid_set.index.codes)  # position -1 reads the trailing None
    n = len(chunk.lon)

    def touches() -> np.ndarray:
        out = np.full(n, None, dtype=object)
        for i, members in match.also_touches.items():
            out[i] = ";".join(str(grid_set.index.codes[g]) for g in members)
        return out

    makers = {
        "row": lambda: np.arange(chunk.offset, chunk.offset + n),
        "id": lambda: chunk.ids if chunk.ids is not None else np.full(n, None, dtype=object),
        "lon": lambda: chunk.lon,
        "lat": lambda: chunk.lat,
        "wgs84_lon": lambda: np.round(wlon, 8),
        "wgs84_lat": lambda: np.round(wlat, 8),
        "status": lambda: STATUS_LABELS[match.status],
        "grid_code": lambda: codes[match.grid],
        "grid_name": lambda: _with_none(grid_set.grids["name"].to_numpy(dtype=object, na_value=None))[
            match.grid
        ],
        "community_code": lambda: _with_none(grid_set.grids["community_code"].to_numpy(dtype=object))[
            match.grid
        ],
        "near_boundary": lambda: match.runner_up >= 0,
        "runner_up_code": lambda: codes[match.runner_up],
        "runner_up_m": lambda: np.round(match.runner_up_m, 2),
        "nearest_code": lambda: codes[match.nearest],
        "nearest_m": lambda: np.round(match.nearest_m, 1),
        "also_touches": touches,
    }
    return {name: makers[name]() for name in (fields or makers)}


class Writer:
    mimetype = "application/json"
    fields: tuple[str, ...] | None = None  # None: every column (``GRID_FIELDS`` for fields=grid)

    def head(self) -> bytes:
        return b""

    def rows(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        grid_set: GridSet,
        *,
        first: bool,
    ) -> bytes:
        raise NotImplementedError

    def tail(self) -> bytes:
        return b""


def _records(cols: dict[str, np.ndarray]) -> list[dict]:
    keys = list(cols)
    lists = [_jsonable(cols[k]) for k in keys]
    return [dict(zip(keys, values, strict=True)) for values in zip(*lists, strict=True)]


def _jsonable(values: np.ndarray) -> list:
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


class JsonWriter(Writer):
    mimetype = "application/json"

    def __init__(self) -> None:
        self._written = False  # a comma goes before every chunk after the first non-empty one

    def head(self) -> bytes:
        return b"["

    def rows(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        grid_set: GridSet,
        *,
        first: bool,
    ) -> bytes:
        records = _records(answer_columns(chunk, wlon, wlat, match, grid_set, self.fields))
        body = orjson.dumps(records)[1:-1]
        if not body:  # an empty chunk (Arrow streams may open with one) adds nothing, not a comma
            return b""
        body = b"," + body if self._written else body
        self._written = True
        return body

    def tail(self) -> bytes:
        return b"]"


class NdjsonWriter(Writer):
    mimetype = "application/x-ndjson"

    def rows(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        grid_set: GridSet,
        *,
        first: bool,
    ) -> bytes:
        records = _records(answer_columns(chunk, wlon, wlat, match, grid_set, self.fields))
        return b"".join(orjson.dumps(r) + b"\n" for r in records)


class CsvWriter(Writer):
    mimetype = "text/csv"

    def rows(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        grid_set: GridSet,
        *,
        first: bool,
    ) -> bytes:
        frame = pd.DataFrame(answer_columns(chunk, wlon, wlat, match, grid_set, self.fields))
        return frame.to_csv(index=False, header=first, lineterminator="\n").encode("utf-8")


class ArrowWriter(Writer):
    """Arrow IPC stream out, built from the match arrays without a Python object per point.

    Text that repeats (status, grid, runner-up and nearest codes, grid names, community codes) is
    dictionary-encoded: one dictionary per grid set, written once at the head of the stream, and
    int32 indices per point (int8 for status). Readers see strings (``to_pylist``) or categoricals
    (pandas).
    """

    mimetype = ARROW

    def __init__(self) -> None:
        self._sink = io.BytesIO()
        self._writer: pyarrow.ipc.RecordBatchStreamWriter | None = None
        self._dicts: tuple[object, _ArrowDictionaries] | None = None

    def rows(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        grid_set: GridSet,
        *,
        first: bool,
    ) -> bytes:
        if self._dicts is None or self._dicts[0] is not grid_set:
            self._dicts = (grid_set, _ArrowDictionaries(grid_set))
        batch = self._dicts[1].batch(chunk, wlon, wlat, match, self.fields)
        if self._writer is None:
            self._writer = pyarrow.ipc.new_stream(self._sink, batch.schema)
        self._writer.write_batch(batch)
        return self._drain()

    def tail(self) -> bytes:
        if self._writer is not None:
            self._writer.close()
        return self._drain()

    def _drain(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data


class _ArrowDictionaries:
    """The dictionaries of one grid set's Arrow answers, and the per-grid index into each."""

    def __init__(self, grid_set: GridSet) -> None:
        self.codes = pa.array(grid_set.index.codes.astype(str), pa.string())
        self.status = pa.array(STATUS_LABELS.astype(str), pa.string())
        self.names, self.name_of = _dictionary(grid_set.grids["name"].to_numpy(dtype=object, na_value=None))
        self.communities, self.community_of = _dictionary(
            grid_set.grids["community_code"].to_numpy(dtype=object)
        )
        self.touch_codes = grid_set.index.codes

    def batch(
        self,
        chunk: Chunk,
        wlon: np.ndarray,
        wlat: np.ndarray,
        match: BatchMatch,
        fields: tuple[str, ...] | None = None,
    ) -> pa.RecordBatch:
        n = len(chunk.lon)
        grid = match.grid
        makers = {
            "row": lambda: pa.array(np.arange(chunk.offset, chunk.offset + n)),
            "id": lambda: pa.nulls(n, pa.string()) if chunk.ids is None else _arrow_column(chunk.ids),
            "lon": lambda: pa.array(chunk.lon),
            "lat": lambda: pa.array(chunk.lat),
            "wgs84_lon": lambda: pa.array(np.round(wlon, 8)),
            "wgs84_lat": lambda: pa.array(np.round(wlat, 8)),
            "status": lambda: pa.DictionaryArray.from_arrays(
                pa.array(match.status.astype(np.int8)), self.status
            ),
            "grid_code": lambda: _encoded(grid, self.codes),
            "grid_name": lambda: _encoded(_through(self.name_of, grid), self.names),
            "community_code": lambda: _encoded(_through(self.community_of, grid), self.communities),
            "near_boundary": lambda: pa.array(match.runner_up >= 0),
            "runner_up_code": lambda: _encoded(match.runner_up, self.codes),
            "runner_up_m": lambda: pa.array(np.round(match.runner_up_m, 2)),
            "nearest_code": lambda: _encoded(match.nearest, self.codes),
            "nearest_m": lambda: pa.array(np.round(match.nearest_m, 1)),
            "also_touches": lambda: self._touches(n, match),
        }
        names = list(fields or makers)
        return pa.RecordBatch.from_arrays([makers[name]() for name in names], names=names)

    def _touches(self, n: int, match: BatchMatch) -> pa.Array:
        if not match.also_touches:
            return pa.nulls(n, pa.string())
        touches = np.full(n, None, dtype=object)
        for i, members in match.also_touches.items():  # a few points on shared edges
            touches[i] = ";".join(str(self.touch_codes[g]) for g in members)
        return pa.array(touches, type=pa.string(), from_pandas=True)


def _dictionary(values: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values as a dictionary, and each value's index into it (-1 for null)."""
    valid = np.array([v is not None for v in values], dtype=bool)
    uniques, inverse = np.unique(values[valid].astype(str), return_inverse=True)
    index = np.full(len(values), -1, dtype=np.int32)
    index[valid] = inverse
    return pa.array(uniques, pa.string()), index


def _through(index: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Per-point dictionary indices from per-grid ones; -1 where the point has no grid (one
    gather: position -1 reads the trailing -1)."""
    return np.append(index, -1).astype(np.int32)[grid]


def _encoded(index: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    """A dictionary column from int indices, null where the index is negative: int16 indices
    (two bytes a point) while the dictionary fits them, int32 beyond. The arrays are made from
    their buffers (a validity bitmap packed by numpy), without a pass per value in Python."""
    kind = np.int16 if len(dictionary) < np.iinfo(np.int16).max else np.int32
    valid = index >= 0
    nulls = len(index) - int(np.count_nonzero(valid))
    values = np.maximum(index, 0).astype(kind)  # the slot of a null holds 0, a valid index
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    indices = pa.Array.from_buffers(
        pa.from_numpy_dtype(kind), len(values), [bitmap, pa.py_buffer(values)], null_count=nulls
    )
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _arrow_column(values: np.ndarray) -> pa.Array:
    """One answer column; text columns are always strings, even when a chunk holds only nulls,
    so every chunk of a stream has the same schema (a null-typed column would break the stream)."""
    if values.dtype != object:
        return pa.array(values)
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # e.g. numeric ids from GeoJSON
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


WRITERS = {"json": JsonWriter, "ndjson": NdjsonWriter, "csv": CsvWriter, "arrow": ArrowWriter}
BY_MIMETYPE = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "text/csv": "csv",
    ARROW: "arrow",
}


class AcceptHeader(Protocol):
    """What the writer choice needs of an Accept header (werkzeug's MIMEAccept has it)."""

    @property
    def provided(self) -> bool: ...

    def best_match(self, matches: list[str]) -> str | None: ...


def writer_for(
    format_arg: str | None, accept: AcceptHeader | None, input_mimetype: str, *, grid_only: bool = False
) -> Writer:
    """``format=`` wins, then an explicit Accept type, then the input's own family; ``grid_only``
    (``fields=grid``) writes only ``GRID_FIELDS``."""
    writer = _writer_for(format_arg, accept, input_mimetype)
    if grid_only:
        writer.fields = GRID_FIELDS
    return writer


def _writer_for(format_arg: str | None, accept: AcceptHeader | None, input_mimetype: str) -> Writer:
    if format_arg:
        if format_arg not in WRITERS:
            raise Invalid(
                f"format={format_arg!r}; expected one of {', '.join(WRITERS)}", code="bad_parameter"
            )
        return WRITERS[format_arg]()
    if accept is not None and accept.provided and str(accept) != "*/*":
        best = accept.best_match(list(BY_MIMETYPE))
        if best:
            return WRITERS[BY_MIMETYPE[best]]()
    if input_mimetype == "text/csv":
        return CsvWriter()
    if input_mimetype == ARROW or input_mimetype in PARQUET:
        return ArrowWriter()
    return JsonWriter()
