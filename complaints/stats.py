"""What leaders ask of the complaint record: counts, on-time rates, satisfaction, overdue.

Pure pandas over a frame of complaint columns, so the same numbers come out of the
JSON API, the CSV export and the planner's page. Months are China-time months.
"""

from __future__ import annotations

import datetime

import pandas as pd

from geo.timeutil import months_of

OPEN_DEADLINE_STATES = ("dispatched", "reopened")
RESOLVED_STATES = ("resolved", "resolved_on_site", "follow_up", "closed")


def _month(series: pd.Series) -> pd.Series:
    return months_of(pd.to_datetime(series, utc=True))


def counts(
    frame: pd.DataFrame,
    by: tuple[str, ...] = ("grid_code", "category_code", "state", "month"),
) -> pd.DataFrame:
    """Complaints per combination of ``by`` (any complaint columns, plus ``month``)."""
    if frame.empty:
        return pd.DataFrame(columns=[*by, "count"])
    data = frame.copy()
    if "month" in by:
        data["month"] = _month(data["reported_at"])
    out = data.groupby(list(by), dropna=False).size().rename("count").reset_index()
    return out.sort_values(list(by), kind="stable").reset_index(drop=True)


def department_performance(frame: pd.DataFrame, now: datetime.datetime) -> pd.DataFrame:
    """Per department: dispatched, resolved, resolved on time, overdue now, on-time rate.

    On time means resolved no later than the deadline of the dispatch; the rate is over
    the complaints whose outcome is known (resolved, or past the deadline unresolved),
    so work still within its time limit neither helps nor hurts a department.
    """
    columns = [
        "department_code",
        "dispatched",
        "resolved",
        "resolved_on_time",
        "overdue_open",
        "on_time_rate",
    ]
    data = frame[frame["department_code"].notna() & frame["deadline"].notna()].copy()
    if data.empty:
        return pd.DataFrame(columns=columns)
    deadline = pd.to_datetime(data["deadline"], utc=True)
    resolved_at = pd.to_datetime(data["resolved_at"], utc=True)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    # resolved_at keeps the last resolution when the resident reopens the case, so only a case
    # that still stands resolved counts: one reopened or dispatched again is back with the department
    data["resolved"] = resolved_at.notna() & data["state"].isin(RESOLVED_STATES)
    data["on_time"] = data["resolved"] & (resolved_at <= deadline)
    data["overdue_open"] = ~data["resolved"] & data["state"].isin(OPEN_DEADLINE_STATES) & (deadline < now_ts)
    data["known"] = data["resolved"] | (deadline < now_ts)
    grouped = data.groupby("department_code")
    out = pd.DataFrame(
        {
            "dispatched": grouped.size(),
            "resolved": grouped["resolved"].sum(),
            "resolved_on_time": grouped["on_time"].sum(),
            "overdue_open": grouped["overdue_open"].sum(),
            "known": grouped["known"].sum(),
        }
    )
    out["on_time_rate"] = (out["resolved_on_time"] / out["known"].where(out["known"] > 0)).round(4)
    return out.drop(columns="known").reset_index()[columns]


def satisfaction(frame: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Share of follow-up calls where the resident was satisfied (回访满意率).

    ``frame`` holds one row per follow-up call (not per complaint): a complaint reopened
    after an unsatisfied call and closed after a second one counts once each way, as
    the town's assessment counts calls.
    """
    data = frame[frame["satisfied"].notna()].copy()
    data["satisfied"] = data["satisfied"].astype(bool)
    if by is None:
        total = len(data)
        happy = int(data["satisfied"].sum())
        return pd.DataFrame(
            [{"followed_up": total, "satisfied": happy, "rate": round(happy / total, 4) if total else None}]
        )
    grouped = data.groupby(by)["satisfied"]
    out = pd.DataFrame({"followed_up": grouped.size(), "satisfied": grouped.sum()})
    out["rate"] = (out["satisfied"] / out["followed_up"]).round(4)
    return out.reset_index()


def overdue(frame: pd.DataFrame, now: datetime.datetime) -> pd.DataFrame:
    """Complaints with a department past their deadline (超期), most overdue first."""
    data = frame[frame["state"].isin(OPEN_DEADLINE_STATES) & frame["deadline"].notna()].copy()
    deadline = pd.to_datetime(data["deadline"], utc=True)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    data = data[deadline < now_ts].copy()
    data["overdue_days"] = (
        (now_ts - pd.to_datetime(data["deadline"], utc=True)).dt.total_seconds() / 86400
    ).round(1)
    return data.sort_values("overdue_days", ascending=False).reset_index(drop=True)
