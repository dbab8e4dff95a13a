"""Batch formats: every reader on small inputs, every writer's output parsed back."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from werkzeug.datastructures import MIMEAccept

from geo.lookup import BatchMatch
from services import batch_io
from services.errors import DomainError as ApiError
from webmap.errors import describe

IN = (113.1457, 23.1110)  # in grid 440605125002005 of the demo
FAR = (116.397, 39.909)  # Beijing


def _read(mimetype: str, data: bytes) -> list[batch_io.Chunk]:
    stream = io.BytesIO(data)
    return list(batch_io.reader_for(mimetype, stream, lambda: data))


def _one(mimetype: str, data: bytes) -> batch_io.Chunk:
    chunks = _read(mimetype, data)
    assert len(chunks) == 1
    return chunks[0]


def _nan_equal(a, b) -> bool:
    return np.array_equal(np.asarray(a, "float64"), np.asarray(b, "float64"), equal_nan=True)


def _status(error: ApiError) -> int:
    """The HTTP status the web layer answers this domain error with."""
    return describe(error)[0]


def _api_error(fn) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn()
    return info.value


# --- readers: JSON ------------------------------------------------------------------------


def test_json_pairs_give_lon_lat_columns_without_ids():
    chunk = _one("application/json", b"[[113.1457, 23.111], [113.2, 23.0], [null, 23.1]]")
    assert chunk.offset == 0 and chunk.ids is None
    assert _nan_equal(chunk.lon, [113.1457, 113.2, np.nan])
    assert _nan_equal(chunk.lat, [23.111, 23.0, 23.1])


def test_json_objects_keep_ids_as_text_and_read_aliases_and_non_numbers_as_nan():
    body = json.dumps(
        [
            {"ID": 7, "LNG": 113.1, "Latitude": "23.2"},
            {"ID": "007", "LNG": "abc", "Latitude": 23.3},
            {"ID": None, "LNG": None, "Latitude": 23.4},
        ]
    ).encode()
    chunk = _one("application/json", body)
    assert list(chunk.ids) == ["7", "007", None]
    assert _nan_equal(chunk.lon, [113.1, np.nan, np.nan])
    assert _nan_equal(chunk.lat, [23.2, 23.3, 23.4])


@pytest.mark.parametrize(
    ("lon_name", "lat_name"),
    [
        ("lon", "lat"),
        ("lng", "lat"),
        ("x", "y"),
        ("经度", "纬度"),
        ("longitude", "latitude"),
        ("long", "lat"),
    ],
)
def test_json_objects_accept_each_column_alias(lon_name, lat_name):
    body = json.dumps([{"编号": "a1", lon_name: 113.1, lat_name: 23.2}], ensure_ascii=False).encode()
    chunk = _one("application/json", body)
    assert list(chunk.ids) == ["a1"]
    assert chunk.lon.tolist() == [113.1] and chunk.lat.tolist() == [23.2]


def test_json_points_wrapper_is_accepted():
    chunk = _one("application/json", b'{"points": [[113.1, 23.2]]}')
    assert chunk.lon.tolist() == [113.1] and chunk.lat.tolist() == [23.2]


def test_empty_json_array_gives_no_chunks():
    assert _read("application/json", b"[]") == []


def test_json_is_split_into_chunks_with_row_offsets(monkeypatch):
    monkeypatch.setattr(batch_io, "CHUNK", 2)
    chunks = _read("application/json", json.dumps([[113.0 + i / 100, 23.1] for i in range(5)]).encode())
    assert [c.offset for c in chunks] == [0, 2, 4]
    assert [len(c.lon) for c in chunks] == [2, 2, 1]
    assert np.concatenate([c.lon for c in chunks]).tolist() == [113.0, 113.01, 113.02, 113.03, 113.04]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            b"{",
            "bad_json",
            "request body is not valid JSON: unexpected end of data: line 1 column 2 (char 1)",
        ),
        (
            b'"text"',
            "bad_json",
            "expected a JSON array of [lon, lat] pairs or of {id, lon, lat} objects, "
            "or a GeoJSON FeatureCollection of points",
        ),
        (b"[[1, 2, 3]]", "bad_json", "every element must be a [lon, lat] pair"),
        (b'[[1, "a"]]', "bad_json", "every element must be a [lon, lat] pair of numbers"),
        (
            b'[{"a": 1, "b": 2}]',
            "missing_columns",
            "JSON objects need lon and lat columns (accepted names: lon, lng, long, longitude, x, 经度 / "
            "lat, latitude, y, 纬度); found a, b",
        ),
    ],
)
def test_bad_json_bodies_name_the_fault(body, code, message):
    error = _api_error(lambda: _read("application/json", body))
    assert (_status(error), error.code, error.message) == (400, code, message)


# --- readers: GeoJSON ---------------------------------------------------------------------


def test_geojson_points_keep_feature_ids_or_property_ids():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "f1",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [113.1, 23.2]},
            },
            {
                "type": "Feature",
                "properties": {"id": "p2"},
                "geometry": {"type": "Point", "coordinates": [113.3, 23.4, 12.0]},
            },
            {
                "type": "Feature",
                "properties": None,
                "geometry": {"type": "Point", "coordinates": [None, 23.5]},
            },
        ],
    }
    chunk = _one("application/geo+json", json.dumps(doc).encode())
    assert list(chunk.ids) == ["f1", "p2", None]
    assert _nan_equal(chunk.lon, [113.1, 113.3, np.nan])
    assert _nan_equal(chunk.lat, [23.2, 23.4, 23.5])


def test_geojson_with_a_non_point_feature_is_refused():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.1, 23.2]}},
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}},
        ],
    }
    error = _api_error(lambda: _read("application/geo+json", json.dumps(doc).encode()))
    assert (error.code, error.message) == (
        "bad_geojson",
        "feature 1: expected a Point geometry, got 'LineString'",
    )


# --- readers: CSV -------------------------------------------------------------------------


def test_csv_with_bom_and_chinese_headers_keeps_ids_as_text_and_non_numbers_as_nan():
    text = "编号,经度,纬度,备注\n007,113.1,23.2,a\n8,abc,23.3,b\n9,,23.4,c\n010, 113.5 ,23.5,d\n"
    chunk = _one("text/csv", text.encode("utf-8-sig"))
    assert list(chunk.ids) == ["007", "8", "9", "010"]
    assert _nan_equal(chunk.lon, [113.1, np.nan, np.nan, 113.5])
    assert _nan_equal(chunk.lat, [23.2, 23.3, 23.4, 23.5])


@pytest.mark.parametrize("header", ["lon,lat", "LNG,LAT", "x,y", "经度,纬度", "Longitude,Latitude"])
def test_csv_column_aliases(header):
    chunk = _one("text/csv", f"{header}\n113.1,23.2\n".encode())
    assert chunk.ids is None
    assert chunk.lon.tolist() == [113.1] and chunk.lat.tolist() == [23.2]


def test_csv_is_read_in_chunks_with_row_offsets(monkeypatch):
    monkeypatch.setattr(batch_io, "CHUNK", 2)
    text = "id,lon,lat\n" + "".join(f"r{i},{113 + i / 100},23.1\n" for i in range(5))
    chunks = _read("text/csv", text.encode())
    assert [c.offset for c in chunks] == [0, 2, 4]
    assert np.concatenate([c.ids for c in chunks]).tolist() == [f"r{i}" for i in range(5)]


def test_csv_without_lon_lat_columns_is_refused():
    error = _api_error(lambda: _read("text/csv", b"a,b\n1,2\n"))
    assert (_status(error), error.code) == (400, "missing_columns")
    assert error.message.endswith("; found a, b")


def test_csv_that_does_not_parse_is_refused():
    error = _api_error(lambda: _read("text/csv", b'lon,lat\n113.1,23.2\n"113.2,23.3\n'))
    assert (_status(error), error.code) == (400, "bad_csv")
    assert error.message.startswith("CSV after row 0: ")


def test_empty_csv_gives_no_chunks():
    assert _read("text/csv", b"") == []


# --- readers: Arrow and Parquet -----------------------------------------------------------


def _arrow_stream(*batches: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


def test_arrow_stream_batches_become_chunks_with_offsets_ids_and_aliases():
    schema = pa.schema([("REF", pa.int64()), ("Lng", pa.float32()), ("Lat", pa.float64())])
    first = pa.record_batch(
        [pa.array([1, 2]), pa.array([113.5, np.nan], pa.float32()), pa.array([23.1, 23.2])], schema=schema
    )
    second = pa.record_batch(
        [pa.array([3]), pa.array([113.25], pa.float32()), pa.array([None], pa.float64())], schema=schema
    )
    chunks = _read(batch_io.ARROW, _arrow_stream(first, second))
    assert [c.offset for c in chunks] == [0, 2]
    assert [list(c.ids) for c in chunks] == [["1", "2"], ["3"]]
    assert _nan_equal(np.concatenate([c.lon for c in chunks]), [113.5, np.nan, 113.25])
    assert _nan_equal(np.concatenate([c.lat for c in chunks]), [23.1, 23.2, np.nan])
    assert all(c.lon.dtype == np.float64 for c in chunks)


def test_arrow_stream_without_lon_lat_is_refused():
    batch = pa.record_batch([pa.array([1.0])], names=["a"])
    error = _api_error(lambda: _read(batch_io.ARROW, _arrow_stream(batch)))
    assert (error.code, error.message) == (
        "missing_columns",
        "Arrow/Parquet input needs lon and lat columns; found a",
    )


def test_arrow_garbage_is_refused():
    error = _api_error(lambda: _read(batch_io.ARROW, b"not arrow at all"))
    assert error.code == "bad_arrow" and error.message.startswith("not an Arrow IPC stream: ")


@pytest.mark.parametrize("mimetype", batch_io.PARQUET)
def test_parquet_keeps_ids_and_aliases(mimetype):
    table = pa.table({"id": ["a", None, "c"], "x": [113.1, 113.2, None], "Y": [23.1, 23.2, 23.3]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    chunk = _one(mimetype, sink.getvalue())
    assert list(chunk.ids) == ["a", None, "c"]
    assert _nan_equal(chunk.lon, [113.1, 113.2, np.nan])
    assert chunk.lat.tolist() == [23.1, 23.2, 23.3]


def test_parquet_garbage_is_refused():
    error = _api_error(lambda: _read(batch_io.PARQUET[0], b"PAR1 nonsense"))
    assert error.code == "bad_parquet" and error.message.startswith("not a Parquet file: ")


def test_unknown_content_type_is_415_naming_the_accepted_types():
    error = _api_error(lambda: _read("text/plain", b"113,23"))
    assert (_status(error), error.code) == (415, "unsupported_media_type")
    assert error.message == (
        "unsupported Content-Type 'text/plain'; send application/json, application/geo+json, "
        "text/csv, application/vnd.apache.arrow.stream or application/vnd.apache.parquet"
    )


# --- writers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answers(demo_app):
    """Two chunks of answers from the demo: the first has no ids, no runner-ups, no touches."""
    svc = demo_app.extensions["redgrid"].grids
    grid_set = svc.grid_set(svc.active_version_id())
    chunks = [
        batch_io.Chunk(0, np.array([IN[0], np.nan]), np.array([IN[1], 23.1]), None),
        batch_io.Chunk(
            2,
            np.array([FAR[0], 113.05, IN[0]]),
            np.array([FAR[1], 23.11, IN[1]]),
            np.array(["b1", None, "b3"], dtype=object),
        ),
    ]
    out = []
    for chunk in chunks:
        _, match, wlon, wlat = svc.locate_many(chunk.lon, chunk.lat)
        out.append((chunk, wlon, wlat, match))
    return grid_set, out


def _write(writer: batch_io.Writer, answers) -> bytes:
    grid_set, parts = answers
    body = writer.head()
    for k, (chunk, wlon, wlat, match) in enumerate(parts):
        body += writer.rows(chunk, wlon, wlat, match, grid_set, first=k == 0)
    return body + writer.tail()


def test_json_writer_output_parses_back(answers):
    records = json.loads(_write(batch_io.JsonWriter(), answers))
    assert [r["row"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in records] == ["ok", "not_a_number", "far_outside", "outside", "ok"]
    assert [r["id"] for r in records] == [None, None, "b1", None, "b3"]
    assert records[0]["grid_code"] == records[4]["grid_code"] == "440605125002005"
    assert records[1]["lon"] is None and records[1]["wgs84_lon"] is None  # NaN becomes null
    assert isinstance(records[3]["nearest_m"], float) and records[3]["nearest_code"]
    assert list(records[0]) == [
        "row",
        "id",
        "lon",
        "lat",
        "wgs84_lon",
        "wgs84_lat",
        "status",
        "grid_code",
        "grid_name",
        "community_code",
        "near_boundary",
        "runner_up_code",
        "runner_up_m",
        "nearest_code",
        "nearest_m",
        "also_touches",
    ]


def test_json_writer_survives_an_empty_first_chunk(answers):
    grid_set, parts = answers
    chunk, wlon, wlat, match = parts[1]
    empty = batch_io.Chunk(0, np.empty(0), np.empty(0), None)
    writer = batch_io.JsonWriter()
    body = (
        writer.head()
        + writer.rows(empty, np.empty(0), np.empty(0), BatchMatch.empty(0), grid_set, first=True)
        + writer.rows(chunk, wlon, wlat, match, grid_set, first=False)
        + writer.tail()
    )
    assert len(json.loads(body)) == 3


def test_ndjson_writer_gives_one_object_per_line(answers):
    lines = _write(batch_io.NdjsonWriter(), answers).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert records == json.loads(_write(batch_io.JsonWriter(), answers))


def test_csv_writer_writes_one_header_and_every_row(answers):
    text = _write(batch_io.CsvWriter(), answers).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.count("row,id,lon,lat") == 1
    assert [r["row"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r["status"] for r in rows] == ["ok", "not_a_number", "far_outside", "outside", "ok"]
    assert [r["id"] for r in rows] == ["", "", "b1", "", "b3"]
    assert rows[0]["grid_code"] == "440605125002005"


def test_arrow_writer_stream_reads_back_with_one_schema(answers):
    table = pyarrow.ipc.open_stream(_write(batch_io.ArrowWriter(), answers)).read_all()
    assert table.num_rows == 5
    assert table.column("row").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("id").to_pylist() == [None, None, "b1", None, "b3"]
    assert table.column("status").to_pylist() == ["ok", "not_a_number", "far_outside", "outside", "ok"]
    # text columns are strings even in a chunk where they hold only nulls; repeating text
    # (codes, names, status) is dictionary-encoded, one dictionary for the whole stream
    for name in ("id", "also_touches"):
        assert table.schema.field(name).type == pa.string(), name
    for name in ("status", "grid_code", "grid_name", "community_code", "runner_up_code", "nearest_code"):
        kind = table.schema.field(name).type
        assert pa.types.is_dictionary(kind) and kind.value_type == pa.string(), name
    assert table.schema.field("near_boundary").type == pa.bool_()


def test_arrow_writer_answers_match_the_json_writer(answers):
    table = pyarrow.ipc.open_stream(_write(batch_io.ArrowWriter(), answers)).read_all()
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in table.to_pylist()
    ]
    assert records == json.loads(_write(batch_io.JsonWriter(), answers))


def test_arrow_writer_turns_numeric_ids_into_text(answers):
    grid_set, parts = answers
    chunk, wlon, wlat, match = parts[1]
    numeric = batch_io.Chunk(0, chunk.lon, chunk.lat, np.array([1, None, 3], dtype=object))
    writer = batch_io.ArrowWriter()
    body = writer.rows(numeric, wlon, wlat, match, grid_set, first=True) + writer.tail()
    assert pyarrow.ipc.open_stream(body).read_all().column("id").to_pylist() == ["1", None, "3"]


def test_grid_only_answers_carry_the_grid_columns_and_agree_with_the_full_answer(answers):
    full = pyarrow.ipc.open_stream(_write(batch_io.ArrowWriter(), answers)).read_all()
    lean_writer = batch_io.writer_for("arrow", None, "application/json", grid_only=True)
    lean = pyarrow.ipc.open_stream(_write(lean_writer, answers)).read_all()
    assert lean.schema.names == list(batch_io.GRID_FIELDS)
    for name in batch_io.GRID_FIELDS:
        assert lean.column(name).to_pylist() == full.column(name).to_pylist(), name
    for fmt in ("json", "csv", "ndjson"):
        text = _write(batch_io.writer_for(fmt, None, "application/json", grid_only=True), answers).decode()
        header = text.splitlines()[0] if fmt == "csv" else json.dumps(json.loads(text.splitlines()[0]))
        assert "runner_up_code" not in header and "grid_name" in header, fmt


def test_arrow_codes_are_dictionary_encoded_with_two_byte_indices(demo_app):
    """A million-point answer is a few bytes a point: each code, name and status is an index into
    one dictionary per stream (int16 for the demo's 309 grids), never the text per point."""
    svc = demo_app.extensions["redgrid"].grids
    grid_set = svc.grid_set(svc.active_version_id())
    rng = np.random.default_rng(2)
    x0, y0, x1, y1 = grid_set.index.bounds
    n = 200_000
    lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
    writer = batch_io.writer_for("arrow", None, batch_io.ARROW, grid_only=True)
    body = writer.head()
    for start in range(0, n, 100_000):
        chunk = batch_io.Chunk(start, lon[start : start + 100_000], lat[start : start + 100_000], None)
        _, match, wlon, wlat = svc.locate_many(chunk.lon, chunk.lat, annotate=False)
        body += writer.rows(chunk, wlon, wlat, match, grid_set, first=start == 0)
    body += writer.tail()
    table = pyarrow.ipc.open_stream(body).read_all()
    for name in ("grid_code", "grid_name", "community_code"):
        kind = table.schema.field(name).type
        assert pa.types.is_dictionary(kind) and kind.index_type == pa.int16(), name
        assert len(table.column(name).chunk(0).dictionary) <= len(grid_set.index)
    assert table.schema.field("status").type.index_type == pa.int8()
    # row (8) + id (null text: 4) + status (1) + three int16 indices (6) + validity bitmaps
    assert len(body) / n < 22
    truth = svc.locate_many(lon, lat, annotate=False)[1]
    codes = np.append(grid_set.index.codes, None)[truth.grid]
    assert table.column("grid_code").to_pylist() == codes.tolist()


@pytest.mark.parametrize(
    ("format_arg", "accept", "input_type", "expected"),
    [
        ("ndjson", "text/csv", "application/json", batch_io.NdjsonWriter),
        (None, "application/x-ndjson", "application/json", batch_io.NdjsonWriter),
        (None, "text/csv", "application/json", batch_io.CsvWriter),
        (None, batch_io.ARROW, "text/csv", batch_io.ArrowWriter),
        (None, "*/*", "text/csv", batch_io.CsvWriter),
        (None, None, "text/csv", batch_io.CsvWriter),
        (None, None, batch_io.ARROW, batch_io.ArrowWriter),
        (None, None, batch_io.PARQUET[0], batch_io.ArrowWriter),
        (None, None, "application/geo+json", batch_io.JsonWriter),
        ("csv", None, "application/json", batch_io.CsvWriter),
        ("arrow", None, "application/json", batch_io.ArrowWriter),
        ("json", None, "text/csv", batch_io.JsonWriter),
    ],
)
def test_writer_choice(format_arg, accept, input_type, expected):
    accept_header = MIMEAccept([(accept, 1)] if accept else [])
    assert type(batch_io.writer_for(format_arg, accept_header, input_type)) is expected


def test_unknown_output_format_is_refused():
    error = _api_error(lambda: batch_io.writer_for("xml", MIMEAccept([]), "application/json"))
    assert (_status(error), error.code, error.message) == (
        400,
        "bad_parameter",
        "format='xml'; expected one of json, ndjson, csv, arrow",
    )


# --- over a live server: clients that send the whole body before reading ----------------------

SERVE = """
import json, sys
from werkzeug.serving import make_server
from webmap import create_app
server = make_server("127.0.0.1", 0, create_app(json.loads(sys.argv[1])), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture(scope="module")
def live_port(demo_template):
    """The demo app on a free loopback port (werkzeug's make_server, in a child process)."""
    import subprocess
    import sys
    from pathlib import Path

    config = demo_template.config()
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE, json.dumps(config)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield int(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(timeout=10)
        child.stdout.close()


def _million_points(mimetype: str) -> bytes:
    rng = np.random.default_rng(11)
    n = 1_000_000
    lon, lat = rng.uniform(113.12, 113.17, n), rng.uniform(23.09, 23.13, n)
    if mimetype == "text/csv":
        return b"lon,lat\n" + b"".join(
            b"%.6f,%.6f\n" % p for p in zip(lon[:300_000], lat[:300_000], strict=True)
        )
    table = pa.table({"lon": lon, "lat": lat})
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=100_000)
    return sink.getvalue()


@pytest.mark.parametrize("mimetype", [batch_io.ARROW, "text/csv"])
def test_a_client_that_sends_everything_before_reading_gets_its_answer(live_port, mimetype):
    """requests and http.client send the whole body, then read: an answer that started streaming
    during the upload would fill both socket buffers and deadlock (the body is read whole first)."""
    import http.client

    import requests

    body = _million_points(mimetype)
    n = 1_000_000 if mimetype == batch_io.ARROW else 300_000
    url = f"http://127.0.0.1:{live_port}/api/v1/points?fields=grid&format=arrow"
    response = requests.post(url, data=body, headers={"Content-Type": mimetype}, timeout=120)
    assert response.status_code == 200, response.text[:300]
    table = pyarrow.ipc.open_stream(response.content).read_all()
    assert table.num_rows == n and table.column("row").to_pylist()[-1] == n - 1

    conn = http.client.HTTPConnection("127.0.0.1", live_port, timeout=120)
    conn.request("POST", "/api/v1/points?fields=grid&format=arrow", body, {"Content-Type": mimetype})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    assert answer.status == 200
    again = pyarrow.ipc.open_stream(data).read_all()
    for name in ("row", "status", "grid_code"):
        assert again.column(name).to_pylist() == table.column(name).to_pylist(), name
