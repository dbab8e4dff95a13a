"""领导驾驶舱 / The leaders' dashboard: one period's figures against the previous period.

Every figure is computed by the same code as the statistics API (``ComplaintService``'s
``stat_*`` methods over ``complaints.stats``) with the same filters (``since``/``until`` on
the time a complaint was reported), so the page, its Excel export and
``/api/v1/stats/...`` cannot differ. Periods are Beijing calendar periods: today, this
week (Monday first) and this month, each against the whole previous day, week or month.

Two figures need a case's history, which the statistics API does not read: the reopen
rate (complaints reopened at least once, over those resolved at least once), the
deliberations (``deliberate`` steps, 多元议事) and the chasing of departments (``urge`` and
``supervise`` steps, 催办 and 督办). Whistles (吹哨报到, ``services.whistles``) and
deliberation meetings (``services.deliberations``) are counted by when they happened: the
whistles blown in the period with the median time from the whistle to the summoned
departments reporting in and responding, and the meetings held in the period, by community.

Nothing personal is returned: overdue complaints carry their id, category, department,
community and grid names and days overdue, never the reporter, phone, text or address.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pandas as pd

from complaints import stats
from geo.timeutil import BEIJING
from geo.timeutil import beijing_today
from geo.timeutil import start_of_day
from services.callers import Caller
from services.cases import ComplaintService
from services.deliberations import DeliberationService
from services.errors import Forbidden
from services.errors import Invalid
from services.grids import GridService
from services.whistles import WhistleService
from store.base import Store

PERIODS = ("today", "week", "month")
#: roles that may open the dashboard (admins too); departments see their own queue instead
DASHBOARD_ROLES = ("dispatcher", "planner", "admin")
RANK_TOP = 10
OVERDUE_SHOWN = 50


@dataclass(frozen=True)
class Period:
    kind: str
    since: datetime.datetime  # Beijing time, inclusive
    until: datetime.datetime  # Beijing time, exclusive

    @property
    def filters(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until}

    @property
    def last_day(self) -> datetime.date:
        return (self.until - datetime.timedelta(days=1)).date()


def periods(kind: str, now: datetime.datetime) -> tuple[Period, Period]:
    """This ``kind`` of period containing ``now`` (Beijing time) and the one before it."""
    today = beijing_today(now)
    if kind == "today":
        start, end = today, today + datetime.timedelta(days=1)
        before = start - datetime.timedelta(days=1)
    elif kind == "week":
        start = today - datetime.timedelta(days=today.weekday())
        end = start + datetime.timedelta(days=7)
        before = start - datetime.timedelta(days=7)
    elif kind == "month":
        start = today.replace(day=1)
        end = (start + datetime.timedelta(days=32)).replace(day=1)
        before = (start - datetime.timedelta(days=1)).replace(day=1)
    else:
        raise Invalid(f"period= is one of {', '.join(PERIODS)}", field="period")
    return (
        Period(kind, start_of_day(start), start_of_day(end)),
        Period(kind, start_of_day(before), start_of_day(start)),
    )


@dataclass(frozen=True)
class Figures:
    """One period's headline figures."""

    received: int
    closed: int  # reported in the period and closed (办结) by now
    resolved: int  # reported in the period and resolved, awaiting follow-up or closed
    on_time_rate: float | None  # over all departments, the statistics' definition
    followed_up: int
    satisfied: int
    satisfaction_rate: float | None
    reopened: int
    reopen_rate: float | None  # reopened at least once / resolved at least once
    overdue: int  # reported in the period, past the deadline and still open now
    deliberations: int  # ``deliberate`` steps of the period's complaints
    urges: int = 0  # 催办 (``urge``) steps of the period's complaints
    supervisions: int = 0  # 督办 (``supervise``) steps of the period's complaints
    whistles: int = 0  # whistles blown in the period
    whistle_report_rate: float | None = None  # summoned departments that reported in (报到)
    whistle_report_minutes: float | None = None  # median, whistle → report in
    whistle_response_minutes: float | None = None  # median, whistle → response
    deliberation_meetings: int = 0  # 多元议事 records of meetings held in the period


@dataclass(frozen=True)
class Dashboard:
    period: Period
    previous: Period
    now: datetime.datetime
    current: Figures
    before: Figures
    departments: list[
        dict
    ]  # code, name, dispatched, resolved, resolved_on_time, overdue_open, on_time_rate, previous
    overdue: list[dict]  # id, category, department, community, grid, overdue_days (all overdue now)
    overdue_total: int
    communities: list[dict]  # code, name, count, previous
    grids: list[dict]  # code, name, community, count, previous
    series: list[tuple[str, int]]  # received per day (per hour for today) in the period
    notes: list[str] = field(default_factory=list)
    #: 多元议事 meetings held in the period per community: code, name, count, previous
    deliberation_communities: list[dict] = field(default_factory=list)

    def changes(self) -> dict[str, float | int | None]:
        """Current minus previous, per figure (rates in percentage points ×0.01)."""
        out: dict[str, float | int | None] = {}
        for name, value in vars(self.current).items():
            old = getattr(self.before, name)
            out[name] = None if value is None or old is None else round(value - old, 4)
        return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


class DashboardService:
    """The dashboard's figures, from the complaint statistics and the store's frames."""

    def __init__(
        self,
        store: Store,
        cases: ComplaintService,
        grids: GridService,
        whistles: WhistleService,
        deliberations: DeliberationService,
    ) -> None:
        self.store = store
        self.cases = cases
        self.grids = grids
        self.whistles = whistles
        self.deliberations = deliberations

    @staticmethod
    def require(caller: Caller) -> None:
        if caller.kind == "system":
            return
        if caller.kind != "user" or caller.role not in DASHBOARD_ROLES:
            raise Forbidden("the dashboard is for dispatchers, planners and administrators")

    # --- figures --------------------------------------------------------------------------

    def figures(self, period: Period) -> Figures:
        filters = period.filters
        counts = self.cases.stat_counts(filters, ["state"])
        by_state = {str(r.state): int(r.count) for r in counts.itertuples(index=False)}
        frame = self.store.complaints_frame(
            ["id", "department_code", "deadline", "resolved_at", "state"], filters
        )
        everyone = stats.department_performance(frame.assign(department_code="*"), self.cases.now())
        on_time = None
        if not everyone.empty:
            value = everyone["on_time_rate"].iloc[0]
            on_time = None if pd.isna(value) else float(value)
        sat = self.cases.stat_satisfaction(filters, None).iloc[0]
        reopened, ever_resolved, deliberations, urges, supervisions = self._history(frame["id"].tolist())
        whistled = self.whistles.figures(period.since, period.until)
        meetings = self.deliberations.counts("community_code", period.since, period.until)
        return Figures(
            received=sum(by_state.values()),
            closed=by_state.get("closed", 0),
            resolved=sum(by_state.get(s, 0) for s in stats.RESOLVED_STATES),
            on_time_rate=on_time,
            followed_up=_int(sat["followed_up"]),
            satisfied=_int(sat["satisfied"]),
            satisfaction_rate=None if pd.isna(sat["rate"]) else float(sat["rate"]),
            reopened=reopened,
            reopen_rate=_rate(reopened, ever_resolved),
            overdue=len(self.cases.stat_overdue(filters)),
            deliberations=deliberations,
            urges=urges,
            supervisions=supervisions,
            whistles=whistled.whistles,
            whistle_report_rate=whistled.report_rate,
            whistle_report_minutes=whistled.median_report_minutes,
            whistle_response_minutes=whistled.median_response_minutes,
            deliberation_meetings=int(meetings["count"].sum()),
        )

    def _history(self, ids: list[int]) -> tuple[int, int, int, int, int]:
        """(complaints reopened at least once, resolved at least once, deliberate, urge and
        supervise steps)."""
        reopened = resolved = deliberations = urges = supervisions = 0
        for complaint_id in ids:
            events = self.store.complaint_events(int(complaint_id))
            # a resident's 不满意 at follow-up and an explicit reopen both lead to "reopened"
            reopened += any(e.to_state == "reopened" for e in events)
            resolved += any(e.to_state in ("resolved", "resolved_on_site") for e in events)
            deliberations += sum(e.action == "deliberate" for e in events)
            urges += sum(e.action == "urge" for e in events)
            supervisions += sum(e.action == "supervise" for e in events)
        return reopened, resolved, deliberations, urges, supervisions

    def build(
        self, caller: Caller, kind: str = "month", now: datetime.datetime | None = None, language: str = "zh"
    ) -> Dashboard:
        """The board; categories and departments named in ``language`` (zh or en: the catalogue
        has both), places by their own names."""
        self.require(caller)
        now = now or self.cases.now()
        period, previous = periods(kind, now)
        names = self._names(language)
        return Dashboard(
            period=period,
            previous=previous,
            now=now,
            current=self.figures(period),
            before=self.figures(previous),
            departments=self._departments(period, previous, names["department"]),
            overdue=self._overdue(names),
            overdue_total=len(self.cases.stat_overdue({})),
            communities=self._ranking("community_code", period, previous, names["community"]),
            grids=self._grid_ranking(period, previous, names),
            series=self._series(period),
            deliberation_communities=self._meetings(period, previous, names["community"]),
        )

    def _meetings(self, period: Period, previous: Period, names: Mapping[str, str]) -> list[dict]:
        """Deliberation meetings per community in the period, most first, against the previous."""
        now_rows = self.deliberations.counts("community_code", period.since, period.until)
        before = self.deliberations.counts("community_code", previous.since, previous.until)
        old = dict(zip(before["community_code"], before["count"], strict=True))
        rows = [
            {
                "code": str(code),
                "name": names.get(str(code), str(code)),
                "count": int(n),
                "previous": int(old.get(code, 0)),
            }
            for code, n in now_rows.itertuples(index=False)
        ]
        return rows[:RANK_TOP]

    # --- tables ---------------------------------------------------------------------------

    def _names(self, language: str = "zh") -> dict[str, dict[str, str]]:
        catalog = self.cases.catalog
        zh = language != "en"
        out: dict[str, dict[str, str]] = {
            "category": {c.code: c.name_zh if zh else c.name_en for c in catalog.categories.values()},
            "department": {d.code: d.name_zh if zh else d.name_en for d in catalog.departments.values()},
            "community": {},
            "grid": {},
            "grid_community": {},
        }
        version = self.grids.active_or_none()
        if version is not None:
            gs = self.grids.grid_set(version)
            out["community"] = {code: str(c.get("name") or code) for code, c in gs.communities.items()}
            for row in gs.grids[["code", "name", "community_code"]].itertuples(index=False):
                out["grid"][str(row.code)] = str(row.name or row.code)
                out["grid_community"][str(row.code)] = str(row.community_code or "")
        return out

    def _departments(
        self, period: Period, previous: Period, names: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        now_rows = self.cases.stat_departments(period.filters)
        before = {
            str(r.department_code): r.on_time_rate
            for r in self.cases.stat_departments(previous.filters).itertuples(index=False)
        }
        rows: list[dict[str, Any]] = []
        for r in now_rows.itertuples(index=False):
            code = str(r.department_code)
            rate = None if pd.isna(r.on_time_rate) else float(r.on_time_rate)
            old = before.get(code)
            old = None if old is None or pd.isna(old) else float(old)
            rows.append(
                {
                    "code": code,
                    "name": names.get(code, code),
                    "dispatched": int(r.dispatched),
                    "resolved": int(r.resolved),
                    "resolved_on_time": int(r.resolved_on_time),
                    "overdue_open": int(r.overdue_open),
                    "on_time_rate": rate,
                    "previous": old,
                }
            )
        rows.sort(key=lambda d: (d["on_time_rate"] is None, -(d["on_time_rate"] or 0), d["code"]))
        return rows

    def _overdue(self, names: Mapping[str, Mapping[str, str]]) -> list[dict]:
        frame = self.cases.stat_overdue({})
        communities = self.store.complaints_frame(["id", "community_code"], {"id": frame["id"].tolist()})
        community_of = dict(zip(communities["id"], communities["community_code"], strict=True))
        rows = []
        for r in frame.itertuples(index=False):
            community = community_of.get(r.id)
            rows.append(
                {
                    "id": int(r.id),
                    "category": names["category"].get(r.category_code, str(r.category_code)),
                    "department": names["department"].get(r.department_code, str(r.department_code)),
                    "community": names["community"].get(str(community), str(community or "")),
                    "grid": names["grid"].get(r.grid_code, str(r.grid_code or "")),
                    "overdue_days": float(r.overdue_days),
                }
            )
        return rows

    def _ranking(self, column: str, period: Period, previous: Period, names: Mapping[str, str]) -> list[dict]:
        now_rows = self.cases.stat_counts(period.filters, [column])
        before = {
            str(r[0]): int(r[1])
            for r in self.cases.stat_counts(previous.filters, [column]).itertuples(index=False)
        }
        rows: list[dict[str, Any]] = [
            {
                "code": str(code),
                "name": names.get(str(code), str(code)),
                "count": int(n),
                "previous": before.get(str(code), 0),
            }
            for code, n in now_rows.itertuples(index=False)
            if code is not None and not pd.isna(code)
        ]
        rows.sort(key=lambda d: (-d["count"], d["code"]))
        return rows[:RANK_TOP]

    def _grid_ranking(
        self, period: Period, previous: Period, names: Mapping[str, Mapping[str, str]]
    ) -> list[dict]:
        rows = self._ranking("grid_code", period, previous, names["grid"])
        for row in rows:
            row["community"] = names["community"].get(names["grid_community"].get(row["code"], ""), "")
        return rows

    def _series(self, period: Period) -> list[tuple[str, int]]:
        frame = self.store.complaints_frame(["reported_at"], period.filters)
        times = pd.to_datetime(frame["reported_at"], utc=True).dt.tz_convert(BEIJING)
        if period.kind == "today":
            counts = times.dt.hour.value_counts()
            return [(f"{h:02d}", int(counts.get(h, 0))) for h in range(24)]
        days = times.dt.date.value_counts()
        out = []
        day = period.since.date()
        while day < period.until.date():
            out.append((day.isoformat(), int(days.get(day, 0))))
            day += datetime.timedelta(days=1)
        return out


# --- Excel ------------------------------------------------------------------------------------

FIGURE_NAMES = (
    ("received", "受理量"),
    ("closed", "办结量"),
    ("resolved", "已处置量"),
    ("on_time_rate", "按时办结率"),
    ("followed_up", "回访数"),
    ("satisfied", "满意数"),
    ("satisfaction_rate", "满意率"),
    ("reopened", "重办件数"),
    ("reopen_rate", "重办率"),
    ("overdue", "本期超期件数"),
    ("deliberations", "多元议事次数"),
    ("urges", "催办次数"),
    ("supervisions", "督办次数"),
    ("whistles", "吹哨次数"),
    ("whistle_report_rate", "吹哨报到率"),
    ("whistle_report_minutes", "吹哨至报到用时中位数（分钟）"),
    ("whistle_response_minutes", "吹哨至响应用时中位数（分钟）"),
    ("deliberation_meetings", "多元议事会议次数"),
)


#: the workbook's words in English (the Chinese are the literals in ``to_xlsx``)
XLSX_ENGLISH = {
    "概览": "Overview",
    "统计周期": "Period",
    "上期": "Previous period",
    "指标": "Figure",
    "本期": "This period",
    "变化": "Change",
    "部门按时办结率": "On time by department",
    "部门": "Department",
    "派单数": "Dispatched",
    "已办结": "Resolved",
    "按时办结": "Resolved on time",
    "超期未办结": "Overdue, open",
    "按时办结率": "On-time rate",
    "上期按时办结率": "On-time rate, previous period",
    "超期清单": "Overdue cases",
    "诉求编号": "Case number",
    "类别": "Category",
    "责任部门": "Department",
    "社区": "Community",
    "网格": "Grid",
    "超期天数": "Days overdue",
    "社区排名": "Communities",
    "排名": "Rank",
    "受理量": "Received",
    "上期受理量": "Received, previous period",
    "网格排名": "Grids",
    "所属社区": "Community",
    "至": "to",
    "办结量": "Closed",
    "已处置量": "Resolved",
    "回访数": "Followed up",
    "满意数": "Satisfied",
    "满意率": "Satisfaction rate",
    "重办件数": "Reopened",
    "重办率": "Reopen rate",
    "本期超期件数": "Overdue in the period",
    "多元议事次数": "Deliberations",
    "吹哨次数": "Whistle-group calls",
    "吹哨报到率": "Whistle report-in rate",
    "吹哨至报到用时中位数（分钟）": "Median minutes, whistle to report-in",
    "吹哨至响应用时中位数（分钟）": "Median minutes, whistle to response",
    "多元议事会议次数": "Deliberation meetings",
    "多元议事": "Deliberations by community",
    "会议次数": "Meetings",
    "上期会议次数": "Meetings, previous period",
}


def to_xlsx(board: Dashboard, language: str = "zh") -> bytes:
    """The dashboard as an Excel workbook (one sheet per table), its headers in ``language``:
    Chinese for a Chinese page, English for an English one (names of places stay as they are;
    categories and departments come named in the board's language)."""
    from openpyxl import Workbook

    def w(zh: str) -> str:
        return zh if language != "en" else XLSX_ENGLISH.get(zh, zh)

    book = Workbook()
    sheet = book.active
    sheet.title = w("概览")
    sheet.append([w("统计周期"), _span(board.period, w), w("上期"), _span(board.previous, w)])
    sheet.append([w("指标"), w("本期"), w("上期"), w("变化")])
    changes = board.changes()
    for key, name in FIGURE_NAMES:
        value, old = getattr(board.current, key), getattr(board.before, key)
        sheet.append([w(name), value, old, changes[key]])

    sheet = book.create_sheet(w("部门按时办结率"))
    sheet.append(
        [w(h) for h in ("部门", "派单数", "已办结", "按时办结", "超期未办结", "按时办结率", "上期按时办结率")]
    )
    for d in board.departments:
        sheet.append(
            [
                d["name"],
                d["dispatched"],
                d["resolved"],
                d["resolved_on_time"],
                d["overdue_open"],
                d["on_time_rate"],
                d["previous"],
            ]
        )

    sheet = book.create_sheet(w("超期清单"))
    sheet.append([w(h) for h in ("诉求编号", "类别", "责任部门", "社区", "网格", "超期天数")])
    for o in board.overdue:
        sheet.append([o["id"], o["category"], o["department"], o["community"], o["grid"], o["overdue_days"]])

    sheet = book.create_sheet(w("社区排名"))
    sheet.append([w(h) for h in ("排名", "社区", "受理量", "上期受理量")])
    for i, c in enumerate(board.communities, 1):
        sheet.append([i, c["name"], c["count"], c["previous"]])

    sheet = book.create_sheet(w("网格排名"))
    sheet.append([w(h) for h in ("排名", "网格", "所属社区", "受理量", "上期受理量")])
    for i, g in enumerate(board.grids, 1):
        sheet.append([i, g["name"], g["community"], g["count"], g["previous"]])

    sheet = book.create_sheet(w("多元议事"))
    sheet.append([w("排名"), w("社区"), w("会议次数"), w("上期会议次数")])
    for i, c in enumerate(board.deliberation_communities, 1):
        sheet.append([i, c["name"], c["count"], c["previous"]])

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _span(period: Period, w: Callable[[str], str] = str) -> str:
    return f"{period.since.date().isoformat()} {w('至')} {period.last_day.isoformat()}"
