"""Codes of the place hierarchy, after GB/T 30428.1 and the NBS statistical division codes.

A grid code is 15 digits: the 12-digit statistical code of its community
(6 county + 3 town + 3 community) followed by a 3-digit sequence numbered
within the community. The prefixes therefore tell which community and town a
grid belongs to, and the length tells what kind of unit a code names.
"""

from __future__ import annotations

import re
from enum import StrEnum

TOWN_CODE_LEN = 9
COMMUNITY_CODE_LEN = 12
GRID_CODE_LEN = 15

_DIGITS = re.compile(r"^\d+$")


class UnitKind(StrEnum):
    TOWN = "town"
    COMMUNITY = "community"
    GRID = "grid"


_BY_LENGTH = {
    TOWN_CODE_LEN: UnitKind.TOWN,
    COMMUNITY_CODE_LEN: UnitKind.COMMUNITY,
    GRID_CODE_LEN: UnitKind.GRID,
}


def unit_kind(code: str) -> UnitKind | None:
    """What a code names, by its length; None when it is no valid code at all."""
    if not isinstance(code, str) or not _DIGITS.match(code):
        return None
    return _BY_LENGTH.get(len(code))


def grid_code_problem(code: object) -> str | None:
    """Why a value is not a well-formed grid code, or None when it is one."""
    if code is None or (isinstance(code, float) and code != code):
        return "grid code is missing"
    text = str(code)
    if not _DIGITS.match(text):
        return f"grid code {text!r} must contain digits only"
    if len(text) != GRID_CODE_LEN:
        return f"grid code {text!r} has {len(text)} digits; expected {GRID_CODE_LEN} (GB/T 30428.1)"
    if text.endswith("000"):
        return f"grid code {text!r} has sequence 000; sequences start at 001"
    return None


def community_of(grid_code: str) -> str:
    return grid_code[:COMMUNITY_CODE_LEN]


def town_of(code: str) -> str:
    return code[:TOWN_CODE_LEN]
