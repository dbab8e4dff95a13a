"""The words a script writes into a page, in a real browser (issue 9, item 10).

``tests/test_page_words.py`` checks every page as the server sends it; the dispatcher's panel
(grid card, team, open complaints, candidates, warnings) and the maps' controls are written by
scripts after the page loads. Here they are read from the live page after a search, with the
same detectors and the same data: no Latin word on the Chinese page outside the allow list, no
Chinese on the English one outside the data.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import login
from tests.browser.pages import DispatcherPage
from tests.browser.pages import GridsPage
from tests.browser.pages import PlannerPage
from tests.test_page_words import _data_strings
from tests.test_page_words import cjk_leaks
from tests.test_page_words import latin_leaks
from tests.test_page_words import visible_texts

#: what the dispatcher asks: a gazetteer address, a grid code, a point outside every grid
QUESTIONS = ("奇槎大道38号", "113.1457,23.1110", "113.30,23.30")


@pytest.fixture(scope="module")
def data(live_server):
    items = _data_strings(live_server.app)
    return items, set(items)


def _leaks(page, language: str, data) -> list[str]:
    texts = visible_texts(page.content())
    finder = latin_leaks if language == "zh" else cjk_leaks
    return sorted(set(finder(texts, *data)))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_dispatchers_answers_speak_the_page_language(page, data, language):
    login(page, "dispatcher", "dispatcher-pass-123")
    dispatcher = DispatcherPage(page, lang=language).open({"lang": language})
    found = {}
    for question in QUESTIONS:
        dispatcher.search(question)
        dispatcher.wait_idle()
        page.wait_for_timeout(300)  # the last panel (open complaints) arrives after the card
        leaks = _leaks(page, language, data)
        if leaks:
            found[question] = leaks
    assert not found, found


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_grid_map_speaks_the_page_language(page, data, language):
    GridsPage(page, lang=language).open({"lang": language})
    assert not _leaks(page, language, data)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("layer", ["counts", "animation", "hotspots"])
def test_the_planners_map_speaks_the_page_language(page, data, language, layer):
    login(page, "planner", "planner-pass-123")
    PlannerPage(page, lang=language).open({"lang": language, "layer": layer})
    assert not _leaks(page, language, data)
