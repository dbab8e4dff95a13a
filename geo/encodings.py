"""Which text encoding a shapefile's .dbf is in, and why we think so.

A .dbf stores bytes, not text. The encoding is named by a .cpg file next to it, or by
the "language driver id" in byte 29 of its header, or by nothing at all. Chinese offices
mail shapefiles made by ArcGIS/MapGIS/SuperMap on Chinese Windows: GBK field names and
values, often without the .cpg and with byte 29 left at 0. GDAL then falls back to
ISO-8859-1, every Chinese column name turns into mojibake (网格编码 → Íø¸ñ±àÂë), and
neither the column aliases nor a user's ``--field code=网格编码`` can name a column.

So, when the file does not say, we look at the bytes: an ASCII-only table needs no
decision; bytes that are valid UTF-8 (and contain non-ASCII) are UTF-8, because GBK
text is almost never valid UTF-8; otherwise the language driver byte, if it names a
Chinese code page; otherwise charset-normalizer judges GB18030 (a superset of GBK and
GB2312) against Big5 (Taiwan/Hong Kong) on the field names and a sample of the values.
Every answer comes with the reason, for the import report, and a user can override it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

#: .dbf language driver ids (byte 29) that name a CJK code page → Python codec
LANGUAGE_DRIVERS: dict[int, tuple[str, str]] = {
    0x4D: ("GBK", "code page 936, Simplified Chinese GBK"),
    0x7A: ("GBK", "code page 936, Simplified Chinese GBK"),
    0x4F: ("BIG5", "code page 950, Traditional Chinese Big5"),
    0x78: ("BIG5", "code page 950, Traditional Chinese Big5"),
}
SAMPLE_BYTES = 1 << 18  # 256 KB of records is plenty to judge and cheap to read
#: Names GDAL's shapefile driver accepts for its ENCODING open option, per Python codec family
_GDAL_NAMES = {
    "gb18030": "GB18030",
    "gbk": "GBK",
    "gb2312": "GBK",
    "big5": "BIG5",
    "utf_8": "UTF-8",
    "utf-8": "UTF-8",
    "ascii": "UTF-8",
}


@dataclass(frozen=True)
class EncodingChoice:
    """The encoding to read a .dbf with (``None``: leave it to GDAL), and why."""

    encoding: str | None
    reason: str

    @property
    def label(self) -> str:
        return self.encoding or "as GDAL reads it"


def dbf_encoding(dbf: bytes, *, cpg: str | None = None, override: str | None = None) -> EncodingChoice:
    """Choose the encoding of a .dbf given its bytes (at least the header and some records).

    ``cpg`` is the text of the .cpg file if there is one; ``override`` is what the user named.
    """
    if override:
        return EncodingChoice(gdal_encoding_name(override), f"named by the user ({override})")
    if cpg is not None and cpg.strip():
        return EncodingChoice(gdal_encoding_name(cpg.strip()), f"the .cpg file says {cpg.strip()}")
    names, values = _dbf_text_bytes(dbf)
    sample = names + b"\n" + values
    if sample.isascii():
        return EncodingChoice(None, "no .cpg, but every field name and value is ASCII")
    if _utf8(names, values):
        return EncodingChoice("UTF-8", "no .cpg; the field names and values are valid UTF-8")
    ldid = dbf[29] if len(dbf) > 29 else 0
    if ldid in LANGUAGE_DRIVERS:
        codec, what = LANGUAGE_DRIVERS[ldid]
        if _decodes(names, codec):
            return EncodingChoice(codec, f"no .cpg; the .dbf language driver byte is 0x{ldid:02X} ({what})")
    candidates = [c for c in ("gb18030", "big5") if _decodes(names, c)]
    if not candidates:
        return EncodingChoice(None, "no .cpg, and the field names are neither UTF-8, GBK nor Big5 text")
    best = charset_normalizer.from_bytes(sample, cp_isolation=candidates).best()
    chosen = best.encoding if best is not None else candidates[0]
    codec = "GB18030" if chosen.startswith("gb") else "BIG5"
    shown = ", ".join(_decoded_names(names, chosen)[:5])
    return EncodingChoice(
        codec,
        f"no .cpg and language driver byte 0x{ldid:02X}; charset-normalizer finds "
        f"{'GBK/GB18030' if codec == 'GB18030' else 'Big5'} Chinese in the field names and values "
        f"(names read as: {shown})",
    )


def text_encoding(sample: bytes, *, what: str = "the text") -> EncodingChoice:
    """UTF-8, GB18030 (GBK) or Big5 for text bytes that declare nothing (e.g. a DXF without $DWGCODEPAGE)."""
    if sample.isascii():
        return EncodingChoice(None, f"{what} is all ASCII")
    if _decodes(sample, "utf-8"):
        return EncodingChoice("UTF-8", f"{what} is valid UTF-8")
    candidates = [c for c in ("gb18030", "big5") if _decodes(sample, c)]
    if not candidates:
        return EncodingChoice(None, f"{what} is neither UTF-8, GBK nor Big5")
    best = charset_normalizer.from_bytes(sample, cp_isolation=candidates).best()
    chosen = best.encoding if best is not None else candidates[0]
    codec = "GB18030" if chosen.startswith("gb") else "BIG5"
    family = "GBK/GB18030" if codec == "GB18030" else "Big5"
    return EncodingChoice(codec, f"charset-normalizer finds {family} Chinese in {what}")


def gdal_encoding_name(name: str) -> str:
    """A codec name as GDAL's ENCODING open option spells it (936 / CP936 / gbk → GBK)."""
    key = name.strip().lower().replace("-", "_")
    if key in ("936", "cp936", "ms936", "windows_936", "gbk"):
        return "GBK"
    if key in ("950", "cp950", "ms950"):
        return "BIG5"
    if key in ("65001", "utf8", "utf_8"):
        return "UTF-8"
    return _GDAL_NAMES.get(key, name.strip().upper())


def read_dbf_sample(path: Path) -> bytes:
    with Path(path).open("rb") as fh:
        return fh.read(SAMPLE_BYTES)


def _dbf_text_bytes(dbf: bytes) -> tuple[bytes, bytes]:
    """(field names joined by newlines, the character fields' values joined by newlines)."""
    if len(dbf) < 32:
        return b"", b""
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    names: list[bytes] = []
    fields: list[tuple[bytes, int, int]] = []  # type, offset in record, length
    offset = 1  # the deletion flag
    for start in range(32, min(header_len, len(dbf)) - 31, 32):
        if dbf[start] == 0x0D:
            break
        desc = dbf[start : start + 32]
        names.append(desc[:11].split(b"\x00", 1)[0])
        length = desc[16]
        fields.append((desc[11:12], offset, length))
        offset += length
    values: list[bytes] = []
    if record_len:
        for rec in range(header_len, len(dbf) - record_len + 1, record_len):
            record = dbf[rec : rec + record_len]
            values.extend(record[o : o + n].strip(b" \x00") for t, o, n in fields if t in (b"C", b"M"))
    return b"\n".join(names), b"\n".join(v for v in values if v)


def _utf8(names: bytes, values: bytes) -> bool:
    """Valid UTF-8, allowing a name cut mid-character at the .dbf's 10-byte limit."""
    if not _decodes(values, "utf-8"):
        return False
    for name in names.split(b"\n"):
        try:
            name.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return False
    return True


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _decoded_names(names: bytes, codec: str) -> list[str]:
    return [n.decode(codec, errors="replace") for n in names.split(b"\n") if n]
