"""A category suggested from what the caller said, so the dispatcher confirms rather than searches.

The catalogue has thirty-odd categories in a select; a dispatcher who has just typed
"楼下路灯不亮，晚上很黑" should find 路灯不亮、损坏 already chosen, and still be free to
choose another. The suggester is deliberately plain: the words of each category (its
``keywords`` column in ``data/catalog/categories.csv`` and the parts of its Chinese name)
are looked for in the text, and the category whose words cover most of the text wins.
A longer word counts more (施工噪音 says more than 噪音), so the more specific category
wins when both match. No word found, no suggestion: a guess would be worse than the
empty select, which forces a choice.

Pure: no catalogue is read here; the caller passes the categories.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from complaints.catalog import Category

__all__ = ["Suggestion", "category_words", "suggest_categories"]

#: parts of a category's name too generic to suggest it on their own
_GENERIC = frozenset({"其他", "其他诉求", "管理", "安全", "不及时", "损坏", "破损"})
_NAME_PARTS = re.compile(r"[、，,（）()/\s]+")


@dataclass(frozen=True)
class Suggestion:
    """A category for a text, how strongly (the characters its words cover) and which words."""

    code: str
    score: int
    words: tuple[str, ...]


def _clean(text: str) -> str:
    """Full-width letters and digits folded (ＡＢ → AB), spaces dropped, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def category_words(category: Category) -> tuple[str, ...]:
    """The words that point to ``category``: its keywords and the parts of its Chinese name."""
    parts = [p for p in _NAME_PARTS.split(category.name_zh) if len(p) >= 2 and p not in _GENERIC]
    words = [_clean(w) for w in (*category.keywords, *parts)]
    return tuple(dict.fromkeys(w for w in words if w))


def suggest_categories(text: str, categories: Iterable[Category], limit: int = 3) -> list[Suggestion]:
    """The categories whose words appear in ``text``, best first (at most ``limit``).

    A category's score is the number of characters of the text its words cover (a word
    inside a longer matched word of the same category counts once); ties go to the
    category with the longest single word, then to catalogue order.
    """
    said = _clean(text)
    if not said:
        return []
    found: list[tuple[int, int, int, Suggestion]] = []
    for order, category in enumerate(categories):
        covered: set[int] = set()
        words: list[str] = []
        for word in sorted(category_words(category), key=len, reverse=True):
            spans = [m.start() for m in re.finditer(re.escape(word), said)]
            new = {i for s in spans for i in range(s, s + len(word))} - covered
            if new:
                covered |= new
                words.append(word)
        if covered:
            longest = max(len(w) for w in words)
            suggestion = Suggestion(category.code, len(covered), tuple(words))
            found.append((len(covered), longest, -order, suggestion))
    found.sort(key=lambda f: (f[0], f[1], f[2]), reverse=True)
    return [f[3] for f in found[: max(limit, 0)]]
