"""HTML to PDF for printed sheets (派单单, 诉求单), with WeasyPrint: A4, Chinese type, offline.

A sheet is a page template laid out for paper and handed to WeasyPrint, so it is escaped
and translated like every other page. WeasyPrint would fetch whatever a page links to; a
sheet fetches nothing (``data:`` images only: photo thumbnails are inlined), so a text in a
complaint can never make the server fetch a URL. Type comes from the fonts installed on
the machine through fontconfig (``PRINT_FONTS`` in order: Debian's fonts-wqy-microhei is
installed by ``scripts/install-test-deps``; a server needs one CJK font, see the README),
never from the network.
"""

from __future__ import annotations

import base64

from webmap.errors import Problem

#: CJK families looked up through fontconfig, first found wins (no web fonts)
PRINT_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Droid Sans Fallback",
)


def font_stack() -> str:
    """The CSS ``font-family`` of a sheet."""
    return ", ".join(f'"{name}"' for name in PRINT_FONTS) + ", sans-serif"


def data_uri(data: bytes, content_type: str = "image/jpeg") -> str:
    """An image inlined in the sheet (a sheet fetches nothing)."""
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def html_to_pdf(html: str) -> bytes:
    """The PDF of a sheet's HTML; only ``data:`` URLs are read. Without Pango on the machine
    WeasyPrint cannot load: the sheet is refused (503) and the rest of the app runs on."""
    try:
        from weasyprint import HTML
        from weasyprint import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: cannot load library 'libpango-1.0-0'
        raise Problem(
            f"printing is not available on this server: {exc}", code="pdf_unavailable", status=503
        ) from exc
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",))).write_pdf()
