"""Chinese address normalisation and parsing, for matching what dispatchers type.

The same place arrives written a dozen ways: full-width digits from a phone IME,
traditional characters from a Hong Kong or Taiwan keyboard, numbers in words
(十二號), the province-city-district-town prefix in full, abbreviated or missing,
building words that differ by region (栋/幢/座/号楼, Cantonese 梯 for a stairwell),
and spaces and punctuation anywhere. Geocoding compares *normalised* text, and
the gazetteer is normalised by the very same function, so every rule here acts
on both sides and can never make an address unmatchable by itself.

Rules, in the order applied by ``normalize``:

1. NFKC (full-width → half-width digits and letters, ideographic space → space),
   upper-case Latin letters (building "a座" = "A座").
2. Traditional → simplified (OpenCC ``t2s``); 號 → 号 comes with it.
3. Colloquial markers: ``3#楼`` / ``12#`` (# reads as 号 wherever it stands), ``3-302``
   at the end of a compound address (building 3, room 302), and sub-doors ``12-3号`` /
   ``12之3号``, located at their main door 12号 (the ``之3`` is kept in ``dropped``).
   Without this rule the dash would vanish with the punctuation and 12-3号 would
   become a different door, 123号.
4. Whitespace and punctuation removed.
5. Chinese numerals → Arabic **only directly before a numbering word**
   (号 栋 幢 座 单元 室 房 楼 层 梯), so 十二号 → 12号 and 三栋 → 3栋 while
   六村社区, 三眼桥, 十字路 and 五一路 keep their names. ``第三栋`` → ``3栋``.
   Digit-by-digit readings work too (三零二室 → 302室).
6. Building, unit and room words unified: 栋/幢/座/号楼/栋楼 → 栋, 梯 → 单元,
   房 → 室 (after a number only); road-type spellings 衖 → 巷.
7. Trailing vague words (附近, 旁边, 门口, 对面 …) dropped: they widen the place,
   they do not move it to another grid.
8. Administrative prefix stripped: 广东(省) 佛山(市) 南海(区) 大沥(镇|街道), any
   subset, in that order, also run together (佛山南海大沥). A bare name is kept
   when what follows is only a road or compound ending (南海大道北88号, 大沥花园).

``parse`` then reads components with this grammar (on normalised text)::

    address   := [foreign-admin] [road number "号"] [name] [building "栋"] [unit "单元"]
                 [room "室"] [floor ("楼"|"层")]
    road      := name ending in 大道 | 路 | 街 | 巷 | 道
    name      := compound (ends in 花园 小区 苑 新村 豪庭 华府 公寓 家园 山庄 …)
                 | landmark (anything else: 小学, 市场, 党群服务中心 …)

Homophones and look-alikes (沥 ↔ 历/立/厉, 岐 ↔ 歧/崎 …) are *not* replaced in the
normalised text: ``fold`` maps them to one form for fuzzy comparison only, and the
geocoder scores a folded match below an exact one. Blind replacement would turn a
real 历 into 沥 and make the two indistinguishable.

The same holds for slips in the road-type word (露/陆 for 路, 阶 for 街, 到 for 道:
``ROAD_TYPE_SLIPS``): ``parse`` reads 建设露73号 as road 建设露, number 73 when no real
road type was found, and ``road_parts``/``road_slip`` tell the geocoder what was meant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import lru_cache

import cn2an
import opencc

__all__ = [
    "ADMIN_PREFIX",
    "COMPOUND_SUFFIXES",
    "CONFUSABLES",
    "ROAD_SUFFIXES",
    "ROAD_TYPE_SLIPS",
    "SUB_AREAS",
    "ParsedAddress",
    "fold",
    "name_stem",
    "normalize",
    "parse",
    "road_class",
    "road_parts",
    "road_slip",
    "road_slip_word",
    "starts_like_a_suffix",
    "to_traditional",
]

#: The town this service runs for, as the prefix parts people write before an address.
ADMIN_PREFIX = (
    ("广东省", "广东", "粤"),
    ("佛山市", "佛山"),
    ("南海区", "南海"),
    ("大沥镇", "大沥街道", "大沥"),
)

#: Road-type words, longest first so 大道 wins over 道.
ROAD_SUFFIXES = ("大道", "大街", "大路", "马路", "路", "街", "巷", "道")
#: How road-type words compare: 大街 is a 街, 马路 a 路, 大路 a colloquial 大道. A mismatch
#: across classes (路 vs 大道) is penalised, not refused, since people mix them up.
_ROAD_CLASS = {
    "大道": "大道",
    "大街": "街",
    "大路": "大道",
    "马路": "路",
    "路": "路",
    "街": "街",
    "巷": "巷",
    "道": "道",
}

#: Slips in the road-type word, each mapped to the word meant: homophones typed through a
#: pinyin IME (露/陆 for 路 lù, 阶/接 for 街 jiē, 到 for 道 dào, 向/项 for 巷 xiàng) and the
#: look-alike 衔 for 街. Only read as a road type where a door number follows (建设露73号) and
#: no real road type was found; the geocoder scores such a road below a correctly typed one.
ROAD_TYPE_SLIPS: dict[str, str] = {
    **dict.fromkeys("露陆鹭璐禄录麓", "路"),
    **dict.fromkeys("阶接皆揭节结衔", "街"),
    **dict.fromkeys("到导倒稻", "道"),
    **dict.fromkeys("向项象像", "巷"),
}

#: The town's sub-areas (片区: the former towns merged into it) people put before an address.
#: Recognised by the geocoder as a leading word that locates nothing finer than the town.
SUB_AREAS = ("盐步", "黄岐")

#: Endings that mark a residential compound (小区) name; longest first.
COMPOUND_SUFFIXES = (
    "花园",
    "小区",
    "新村",
    "雅苑",
    "名苑",
    "豪庭",
    "华府",
    "公寓",
    "家园",
    "山庄",
    "华庭",
    "雅居",
    "广场",
    "大厦",
    "新城",
    "苑",
    "园",
    "庭",
    "居",
    "府",
    "阁",
    "轩",
)

#: Look-alike and sound-alike characters seen in the demo's names, each mapped to the
#: form the names use. Sources of confusion: Mandarin homophones (沥/历/立/厉/丽/力),
#: shapes (岐/歧/崎), Cantonese mergers (黄/王, 冲/涌), and IME slips.
CONFUSABLES: dict[str, str] = {
    **dict.fromkeys("历立厉丽力利", "沥"),
    **dict.fromkeys("歧崎", "岐"),
    **dict.fromkeys("院园", "苑"),
    **dict.fromkeys("洲舟", "州"),
    **dict.fromkeys("佳家加", "嘉"),
    **dict.fromkeys("亚", "雅"),
    **dict.fromkeys("遥摇谣", "瑶"),
    **dict.fromkeys("风奉", "凤"),
    **dict.fromkeys("窖教较", "滘"),
    **dict.fromkeys("化桦", "华"),
    **dict.fromkeys("星", "兴"),
    **dict.fromkeys("贵", "桂"),
    **dict.fromkeys("绣锈", "秀"),
    **dict.fromkeys("驰迟", "池"),
    **dict.fromkeys("亭廷停", "庭"),
    **dict.fromkeys("濠毫", "豪"),
    **dict.fromkeys("弯", "湾"),
    **dict.fromkeys("埗部", "步"),
    **dict.fromkeys("茶查", "槎"),
    **dict.fromkeys("秘必", "泌"),
    **dict.fromkeys("冈", "岗"),
    **dict.fromkeys("冲", "涌"),
    **dict.fromkeys("熊", "雄"),
    **dict.fromkeys("王", "黄"),
    **dict.fromkeys("中终", "钟"),
    **dict.fromkeys("编", "边"),
    **dict.fromkeys("槽", "曹"),
    **dict.fromkeys("衡", "横"),
    **dict.fromkeys("寻", "浔"),
    **dict.fromkeys("鱼余", "渔"),
    **dict.fromkeys("坪评", "平"),
    **dict.fromkeys("胜", "盛"),
    **dict.fromkeys("景", "井"),
}
_FOLD_TABLE = str.maketrans(CONFUSABLES)

# Places that are *not* 大沥镇: a text naming one of them before the address is about
# another town, whatever road name follows (many towns have a 建设路). Public
# administrative names: Guangdong's cities, Foshan's districts, Nanhai's other
# towns, and the Guangzhou districts next to Dali.
_OTHER_CITIES = (
    "广州",
    "深圳",
    "珠海",
    "汕头",
    "韶关",
    "河源",
    "梅州",
    "惠州",
    "汕尾",
    "东莞",
    "中山",
    "江门",
    "阳江",
    "湛江",
    "茂名",
    "肇庆",
    "清远",
    "潮州",
    "揭阳",
    "云浮",
    "北京",
    "上海",
    "天津",
    "重庆",
)
_OTHER_DISTRICTS = ("禅城", "顺德", "三水", "高明", "荔湾", "白云", "越秀", "海珠", "天河", "番禺", "花都")
_OTHER_TOWNS = (
    "桂城",
    "九江",
    "西樵",
    "丹灶",
    "狮山",
    "里水",
    "大良",
    "容桂",
    "乐从",
    "北滘",
    "陈村",
    "石湾",
)
_FOREIGN = re.compile(
    "^(?:"
    + "|".join(f"{c}市?" for c in _OTHER_CITIES)
    + "|"
    + "|".join(f"{d}区?" for d in _OTHER_DISTRICTS)
    + "|"
    + "|".join(f"{t}(?:镇|街道)?" for t in _OTHER_TOWNS)
    + r"|(?!广东)\w{2,6}?(?:省|自治区)"
    + ")"
)

_CN_DIGITS = "零〇一二三四五六七八九十百千两幺"
_NUMBERING_WORDS = "号楼|栋楼|号|栋|幢|座|单元|室|房|楼|层|梯"
_CN_NUMBER = re.compile(f"第?([{_CN_DIGITS}]+)(?=(?:{_NUMBERING_WORDS}))")
_ORDINAL = re.compile(f"第(\\d+)(?=(?:{_NUMBERING_WORDS}))")
_DIGIT_BY_DIGIT = str.maketrans("零〇一二三四五六七八九幺两", "0012345678912")
_SUB_NUMBER = re.compile(r"(\d+)\s*(?:[-－—–]|之)\s*(\d+)\s*号")  # 12-3号 / 12之3号: door 12, sub-door 3
_DASH_ROOM = re.compile(r"(\d+|[A-Z])\s*[-－—–]\s*(\d{3,4})(?:室|房)?$")
_BUILDING = re.compile(r"(\d+|[A-Z])(?:号楼|栋楼|幢|座|栋)")
_STAIR = re.compile(r"(\d+)梯")
_ROOM = re.compile(r"(\d+)房")
_VAGUE_TAIL = re.compile(r"(?:附近|旁边|旁|门口|对面|对出|周边|一带|那边|这边|处|边上|里面)+$")
_SPACE_PUNCT_CATEGORIES = ("P", "S", "Z", "C")

_ROAD_END = r"(?:大道|大街|大路|马路|路|街|巷|道)(?:[东南西北中]段?)?"
_BARE_DOOR = re.compile(f"({_ROAD_END})(\\d+)$")  # 沥苑路12: the 号 left out
_PARSE = re.compile(
    f"^(?:(?P<road>.+?{_ROAD_END})(?P<number>\\d+)号)?"
    r"(?P<name>.*?)"
    r"(?:(?P<building>\d+|[A-Z])栋)?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:(?P<room>\d+)室)?"
    r"(?:(?P<floor>\d+)(?:楼|层))?$"
)
_ROAD_ONLY = re.compile(r"^(?P<road>.+?(?:大道|大街|大路|马路|路|街|巷))$")
_SLIPS = "".join(ROAD_TYPE_SLIPS)
_SLIP_DOOR = re.compile(f"^(?P<road>.+?[{_SLIPS}])(?P<number>\\d+)号(?P<rest>.*)$")


@dataclass(frozen=True)
class ParsedAddress:
    """An address split into the parts a gazetteer is keyed on.

    ``number``, ``building``, ``unit``, ``room`` and ``floor`` are kept as text
    (building "A" is valid). ``foreign`` names another town or city the text was
    about; ``prefix`` is the part of our own town's name that was stripped.
    """

    text: str  # the normalised text the parts were read from
    road: str | None = None
    number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    floor: str | None = None
    landmark: str | None = None
    prefix: str = ""
    foreign: str | None = None
    dropped: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str | None:
        """The compound or landmark name, whichever was read."""
        return self.compound or self.landmark

    def describe(self) -> str:
        parts = [
            f"{k}={v}"
            for k in ("road", "number", "compound", "building", "unit", "room", "floor", "landmark")
            if (v := getattr(self, k))
        ]
        return ", ".join(parts) or "nothing recognisable"


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    """Simplified → traditional; used to write test cases as a Hong Kong keyboard would."""
    return _s2t().convert(text)


def _numeral(match: re.Match) -> str:
    words = match.group(1)
    if not any(ch in "十百千" for ch in words) and len(words) > 1:
        return words.translate(_DIGIT_BY_DIGIT)  # 三零二 → 302, read digit by digit
    try:
        return str(cn2an.cn2an(words.replace("幺", "一").replace("〇", "零"), "smart"))
    except (ValueError, KeyError):
        return match.group(0)


def _strip_punctuation(text: str) -> str:
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith(_SPACE_PUNCT_CATEGORIES))


def _strip_admin(text: str) -> tuple[str, str]:
    """Remove our own town's prefix; returns (rest, what was removed).

    A bare level name (南海, 佛山) is removed only when what follows it does not start
    like a road or compound ending: 南海大道 is a road, not 南海 + 大道.
    """
    removed = []
    for level in ADMIN_PREFIX:
        for form in level:
            if not text.startswith(form):
                continue
            rest = text[len(form) :]
            bare = form in ("广东", "佛山", "南海", "大沥", "粤")
            if bare and rest and starts_like_a_suffix(rest):
                continue
            removed.append(form)
            text = rest
            break
    return text, "".join(removed)


def starts_like_a_suffix(rest: str) -> bool:
    """True when ``rest`` is a bare road or compound ending: the name before it was the stem."""
    for suffix in (*ROAD_SUFFIXES, *COMPOUND_SUFFIXES):
        if rest.startswith(suffix):
            after = rest[len(suffix) : len(suffix) + 1]
            if not after or after.isdigit() or after in "东南西北中":
                return True
    return False


@lru_cache(maxsize=65536)
def _normalize(text: str) -> tuple[str, str, tuple[str, ...]]:
    dropped: list[str] = []
    s = unicodedata.normalize("NFKC", text).upper()
    s = _t2s().convert(s).replace("號", "号")
    s = s.replace("#", "号")  # 3#楼, 12#: "#" is read as 号 wherever it stands
    sub = _SUB_NUMBER.search(s)
    if sub:
        dropped.append(f"之{sub.group(2)}")
        s = s[: sub.start()] + f"{sub.group(1)}号" + s[sub.end() :]
    s = _DASH_ROOM.sub(r"\1栋\2室", s.strip())
    s = _strip_punctuation(s)
    s = _CN_NUMBER.sub(_numeral, s)
    s = _ORDINAL.sub(r"\1", s)
    s = _BUILDING.sub(r"\1栋", s)
    s = _STAIR.sub(r"\1单元", s)
    s = _ROOM.sub(r"\1室", s)
    s = s.replace("衖", "巷")
    tail = _VAGUE_TAIL.search(s)
    if tail and tail.start() > 0:
        dropped.append(tail.group(0))
        s = s[: tail.start()]
    s = _BARE_DOOR.sub(r"\1\2号", s)
    s, prefix = _strip_admin(s)
    return s, prefix, tuple(dropped)


def normalize(text: str) -> str:
    """The canonical form of an address: what gazetteer keys and queries are compared on."""
    return _normalize(str(text))[0]


def fold(text: str) -> str:
    """Map look-alike characters to one form, for fuzzy comparison only (never stored)."""
    return text.translate(_FOLD_TABLE)


def road_class(road: str) -> tuple[str, str]:
    """(stem, class) of a road name: 沥苑大街 → (沥苑, 街)."""
    stem, _, cls = road_parts(road)
    return stem, cls


def road_parts(road: str) -> tuple[str, str, str]:
    """(stem, type word, class) of a road name: 沥苑大街 → (沥苑, 大街, 街).

    A slipped type word counts as the word it stands for: 建设露 → (建设, 露, 路),
    奇槎大到 → (奇槎, 大到, 大道); ``road_slip`` tells the two apart.
    """
    for suffix in ROAD_SUFFIXES:
        if road.endswith(suffix) and len(road) > len(suffix):
            return road[: -len(suffix)], suffix, _ROAD_CLASS[suffix]
    word = road_slip_word(road)
    if word:
        return road[: -len(word)], word, _ROAD_CLASS[road_slip(word) or ""]
    return road, "", ""


def road_slip_word(road: str) -> str:
    """The slipped road-type word a road name ends with (露, 大到 …), or ""."""
    last = road[-1:]
    if last not in ROAD_TYPE_SLIPS or len(road) < 2:
        return ""
    if road[-2] == "大" and len(road) > 2 and "大" + ROAD_TYPE_SLIPS[last] in _ROAD_CLASS:
        return road[-2:]
    return last


def road_slip(word: str) -> str | None:
    """The road-type word a slip stands for (露 → 路, 大到 → 大道), None for a real one."""
    if not word or word in _ROAD_CLASS or word[-1] not in ROAD_TYPE_SLIPS:
        return None
    proper = word[:-1] + ROAD_TYPE_SLIPS[word[-1]]
    return proper if proper in _ROAD_CLASS else None


def name_stem(name: str) -> str:
    """A compound name without its generic ending: 嘉州花园 → 嘉州, for "嘉州3座"-style queries."""
    if name in COMPOUND_SUFFIXES:
        return name  # 花园 alone has no stem (not 花 + 园)
    for suffix in COMPOUND_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def parse(text: str) -> ParsedAddress:
    """Normalise ``text`` and read its components (grammar in the module docstring)."""
    norm, prefix, dropped = _normalize(str(text))
    foreign = None
    m = _FOREIGN.match(norm)
    if m and not starts_like_a_suffix(norm[m.end() :]):
        foreign = m.group(0)
    base = ParsedAddress(text=norm, prefix=prefix, foreign=foreign, dropped=dropped)
    if not norm:
        return base
    parsed = _read(base, norm)
    slip = _SLIP_DOOR.match(norm) if parsed.road is None else None
    if slip and road_slip(road_slip_word(slip.group("road"))):
        # 建设露73号: read as if the type word were right, then keep the road as typed so
        # the geocoder sees (and scores) the slip.
        road = slip.group("road")
        word = road_slip_word(road)
        fixed = road[: -len(word)] + (road_slip(word) or word)
        inner = _read(base, f"{fixed}{slip.group('number')}号{slip.group('rest')}")
        if inner.road == fixed:
            return replace(inner, road=road)
    return parsed


def _read(base: ParsedAddress, norm: str) -> ParsedAddress:
    """The components of normalised text, by the grammar in the module docstring."""
    road_only = _ROAD_ONLY.match(norm)
    if road_only and not norm.endswith(COMPOUND_SUFFIXES):
        return replace(base, road=road_only.group("road"))
    m = _PARSE.match(norm)
    if m is None:  # pragma: no cover - the pattern's name part matches anything
        return replace(base, landmark=norm)
    name = m.group("name") or None
    road, number, building = m.group("road"), m.group("number"), m.group("building")
    if name and building and building.isdigit() and not road and _ROAD_ONLY.match(name):
        road, number, building, name = name, building, None, None  # 沥苑路28号楼 is door 28
    compound = landmark = None
    if name:
        if name.endswith(COMPOUND_SUFFIXES) or building or m.group("unit") or m.group("room"):
            compound = name
        else:
            landmark = name
    return replace(
        base,
        road=road,
        number=number,
        compound=compound,
        building=building,
        unit=m.group("unit"),
        room=m.group("room"),
        floor=m.group("floor"),
        landmark=landmark,
    )
