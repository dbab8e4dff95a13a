"""The page-text catalogues: both languages say everything, with the same placeholders."""

from __future__ import annotations

import string

import pytest
from babel.messages.pofile import read_po

from webmap.i18n import LANGS
from webmap.i18n import catalogue_path
from webmap.i18n import translate


def entries(language: str) -> dict[str, str]:
    with catalogue_path(language).open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", LANGS)
def test_no_key_is_written_twice(language):
    # merges keep both sides of a catalogue (.gitattributes: merge=union): a key added on two
    # branches would otherwise be read as whichever comes last
    lines = catalogue_path(language).read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith(("<<<<<<<", "=======", ">>>>>>>"))] == []
    keys = [line for line in lines if line.startswith('msgid "') and line != 'msgid ""']
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []


def test_both_catalogues_have_the_same_keys():
    zh, en = entries("zh"), entries("en")
    assert set(zh) - set(en) == set(), "keys missing from the English catalogue"
    assert set(en) - set(zh) == set(), "keys missing from the Chinese catalogue"


@pytest.mark.parametrize("language", LANGS)
def test_every_entry_is_translated_and_keeps_the_placeholders(language):
    mine, other = entries(language), entries("en" if language == "zh" else "zh")
    empty = [key for key, text in mine.items() if not text.strip()]
    assert empty == []
    differing = [key for key, text in mine.items() if key in other and fields(text) != fields(other[key])]
    assert differing == []


def test_translate_reads_the_catalogue_and_fills_placeholders():
    assert translate("nav_dispatch", "zh") == "调度"
    assert translate("nav_dispatch", "en") == "Dispatch"
    assert translate("dash_overdue_shown", "zh", total=7, shown=5) == "共 7 件，显示前 5 件"
    assert translate("no_such_key", "en") == "no_such_key"
