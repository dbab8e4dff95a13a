"""Local gazetteer first, online providers second, and never a point outside the town's grids.

The gazetteer is maintained by the grid workers themselves and knows buildings no
online map has; it also costs nothing and never leaks a resident's address to a
third party. Providers are asked only when it cannot match. Their answers are
checked against the grids: a provider happily finds a 建设路12号 in another town,
and a point outside every grid cannot be dispatched to any team, so such a
candidate is dropped rather than shown as an answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from geo.geocode import Candidate
from geo.geocode import GeocodeResult
from geo.geocoders.base import Geocoder
from geo.geocoders.base import ProviderError
from geo.lookup import GridIndex
from geo.lookup import Status

__all__ = ["ChainGeocoder"]


class ChainGeocoder:
    """Try ``local``, then each provider in order; the first ``matched`` answer wins.

    Without a match the most useful unsure answer is returned: the local one if it
    had candidates, else the first provider's. Provider failures are listed in the
    result's ``errors`` (never raised), so one outage does not stop geocoding but
    is still visible.
    """

    name = "chain"

    def __init__(
        self, local: Geocoder, providers: Sequence[Geocoder] = (), *, grid_index: GridIndex | None = None
    ) -> None:
        self.local = local
        self.providers = tuple(providers)
        self.grid_index = grid_index

    def geocode(self, text: str) -> GeocodeResult:
        first = self.local.geocode(text)
        if first.status == "matched":
            return first
        if first.parsed is not None and first.parsed.foreign:
            return first  # another town by the caller's own words: no provider makes it ours
        errors: list[str] = []
        said: list[str] = []  # why each provider gave up, so a final "not found" explains itself
        unsure: list[GeocodeResult] = [first] if first.status == "ambiguous" else []
        for provider in self.providers:
            try:
                answer = self._in_grids(provider.geocode(text))
            except ProviderError as exc:
                errors.append(str(exc))
                continue
            if answer.status == "matched":
                return replace(answer, errors=tuple(errors))
            if answer.status == "ambiguous":
                unsure.append(answer)
            else:
                said.append(f"{_label(provider)}：{answer.explanation}")
        if unsure:
            return replace(unsure[0], errors=tuple(errors))
        return replace(first, errors=tuple(errors), explanation="；".join([first.explanation, *said]))

    def _in_grids(self, result: GeocodeResult) -> GeocodeResult:
        """Give provider candidates their grid; drop those in no grid, demoting the answer if need be."""
        if self.grid_index is None or not result.candidates:
            return result
        kept: list[Candidate] = []
        for cand in result.candidates:
            match = self.grid_index.locate(cand.lon, cand.lat)
            if match.status == Status.OK:
                kept.append(replace(cand, grid_code=str(self.grid_index.codes[match.grid])))
        if not kept:
            return replace(
                result,
                status="not_found",
                best=None,
                candidates=(),
                explanation=f"{_label(result.source)}的结果不在本镇网格内（{result.explanation}）",
            )
        # A match has one candidate, so if anything was kept it is the match itself.
        return replace(result, best=kept[0], candidates=tuple(kept))


#: the providers' names as dispatchers read them (explanations are in Chinese)
LABELS = {"amap": "高德", "tianditu": "天地图", "gazetteer": "本地标准地址库"}


def _label(provider: Geocoder | str) -> str:
    name = provider if isinstance(provider, str) else provider.name
    return LABELS.get(name, getattr(provider, "label", name))
