"""Page text in Chinese (zh-CN, the default) and English, chosen by ?lang= or a cookie.

The text lives in gettext catalogues (``webmap/translations/<locale>/LC_MESSAGES/messages.po``)
that a translator edits with any PO editor; Babel reads them. Message ids are stable keys
(``t('nav_dispatch')``) rather than English sentences, because the product is written
Chinese-first and the English page is a translation too: both languages are catalogues of
equal standing, and rewording one never orphans the other. ``{name}`` placeholders are
filled by the code with ``str.format``.

The catalogues are compiled in memory when first used (``babel.messages.mofile``), so no
compiled ``.mo`` file is kept in the repository or has to be rebuilt after an edit; a test
checks that both catalogues have the same keys and placeholders.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask import g
from flask import request

LANGS = ("zh", "en")
#: each page language's catalogue (a Babel locale name, the folder under translations/)
LOCALES = {"zh": "zh_Hans_CN", "en": "en"}
TRANSLATIONS = Path(__file__).with_name("translations")


def catalogue_path(language: str) -> Path:
    return TRANSLATIONS / LOCALES[language] / "LC_MESSAGES" / "messages.po"


@functools.cache
def catalogue(language: str) -> Translations:
    """The compiled catalogue of one page language (read once per process)."""
    with catalogue_path(language).open("rb") as po:
        parsed = read_po(po, locale=LOCALES[language])
    compiled = io.BytesIO()
    write_mo(compiled, parsed)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def translate(key: str, language: str, **values: object) -> str:
    """The text for ``key`` in ``language`` (the key itself when no catalogue has it)."""
    text = catalogue(language if language in LOCALES else "zh").gettext(key)
    return text.format(**values) if values else text


def has_text(key: str, language: str | None = None) -> bool:
    """Whether the catalogue of ``language`` (default: the request's) holds ``key``."""
    chosen = language or lang()
    return translate(key, chosen) != key


def lang() -> str:
    if "lang" not in g:
        chosen = request.args.get("lang") or request.cookies.get("lang") or "zh"
        g.lang = chosen if chosen in LANGS else "zh"
    return g.lang


def t(key: str, **values) -> str:
    """The text for ``key`` in the current request's language."""
    return translate(key, lang(), **values)


#: the words Leaflet and its animation player write into a map, set by webmap/static/js/leaflet-words.js
MAP_WORDS = (
    "zoom_in",
    "zoom_out",
    "layers",
    "marker",
    "leaflet_title",
    "player_play",
    "player_pause",
    "player_backward",
    "player_forward",
    "player_loop",
    "player_date",
    "player_play_reverse",
    "player_fps",
    "player_no_time",
)


def map_words() -> dict[str, str]:
    """The maps' own words in the request's language (base.html puts them in #map-words)."""
    return {key: t("map_" + key) for key in MAP_WORDS}


#: punctuation between words, which differs by language: （…）, ：, ， against (…), :, ,
_PUNCTUATION = {"zh": ("（", "）", "：", "，"), "en": (" (", ")", ": ", ", ")}


def bracketed(text: object) -> str:
    """``text`` in brackets as the page's language writes them: （王调度） / (Wang)."""
    opening, closing, _, _ = _PUNCTUATION[lang()]
    return f"{opening}{text}{closing}"


def colon() -> str:
    return _PUNCTUATION[lang()][2]


def comma() -> str:
    return _PUNCTUATION[lang()][3]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, lang=lang, map_words=map_words, colon=colon, comma=comma)
    app.jinja_env.filters["bracketed"] = bracketed

    @app.after_request
    def _remember(response):
        if request.args.get("lang") in LANGS:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")
        return response
