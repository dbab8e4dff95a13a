"""领导驾驶舱 / The leaders' dashboard page and its Excel export.

Roles: dispatchers, planners and administrators (the page holds no personal data, the
same figures as the statistics API); departments get 403, anonymous visitors the login
page. Charts are inline SVG drawn here, on the server: no script, no library, offline.
"""

from __future__ import annotations

from flask import Response
from flask import render_template
from flask import request
from markupsafe import Markup
from markupsafe import escape

from geo.timeutil import BEIJING
from geo.timeutil import parse_when
from services.dashboard import DASHBOARD_ROLES
from services.dashboard import PERIODS
from services.dashboard import Dashboard
from services.dashboard import to_xlsx
from webmap import auth
from webmap.api.params import no_store
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.users import role_required

#: (figure, label key, kind): kind "n" is a count, "r" a rate shown as a percentage
FIGURES = (
    ("received", "dash_received", "n"),
    ("closed", "dash_closed", "n"),
    ("on_time_rate", "dash_on_time_rate", "r"),
    ("satisfaction_rate", "dash_satisfaction", "r"),
    ("reopen_rate", "dash_reopen_rate", "r"),
    ("overdue", "dash_overdue", "n"),
    ("deliberations", "dash_deliberations", "n"),
    ("urges", "dash_urges", "n"),
    ("supervisions", "dash_supervisions", "n"),
    ("deliberation_meetings", "dash_deliberation_meetings", "n"),
    ("whistles", "dash_whistles", "n"),
    ("whistle_report_rate", "dash_whistle_report_rate", "r"),
    ("whistle_report_minutes", "dash_whistle_report_minutes", "n"),
    ("whistle_response_minutes", "dash_whistle_response_minutes", "n"),
)


def _board() -> Dashboard:
    kind = request.args.get("period", "month")
    at = request.args.get("at")
    when = parse_when(at) if at else None
    return auth.services().dashboard.build(auth.caller(), kind if kind else "month", when, language=lang())


@bp.get("/dashboard")
@role_required(*DASHBOARD_ROLES)
def dashboard():
    """领导驾驶舱: this period's figures against the previous period, with charts."""
    board = _board()
    changes = board.changes()
    figures = [
        {
            "key": key,
            "label": t(label),
            "kind": kind,
            "value": getattr(board.current, key),
            "previous": getattr(board.before, key),
            "change": changes[key],
        }
        for key, label, kind in FIGURES
    ]
    return no_store(
        Response(
            render_template(
                "dashboard.html",
                board=board,
                figures=figures,
                periods=PERIODS,
                at=request.args.get("at", ""),
                span=lambda p: f"{p.since.date().isoformat()} – {p.last_day.isoformat()}",
                pct=_pct,
                num=_num,
                trend_chart=_sparkline(board.series, t("dash_trend")),
                department_chart=_bars(
                    [(d["name"], d["on_time_rate"]) for d in board.departments],
                    percent=True,
                    title=t("dash_on_time_by_department"),
                ),
                community_chart=_bars(
                    [(c["name"], c["count"]) for c in board.communities], title=t("dash_community_ranking")
                ),
                as_of=board.now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
            )
        )
    )


@bp.get("/dashboard.xlsx")
@role_required(*DASHBOARD_ROLES)
def dashboard_xlsx():
    """The dashboard as an Excel workbook (Chinese headers)."""
    board = _board()
    data = to_xlsx(board, lang())
    auth.services().audit.record(
        auth.caller(), "export", "dashboard", {"format": "xlsx", "period": board.period.kind, **request.args}
    )
    name = f"dashboard-{board.period.kind}-{board.period.since.date().isoformat()}.xlsx"
    response = Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return no_store(response)


# --- formatting and charts --------------------------------------------------------------------


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}%"


def _num(value: float | int | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+g}" if signed else f"{value:g}"


def _sparkline(series: list[tuple[str, int]], title: str) -> Markup:
    """A line of counts with its area, scaled to its own maximum (SVG, scales with its box)."""
    width, height, pad = 300.0, 60.0, 4.0
    values = [v for _, v in series]
    if not values:
        return Markup("")
    top = max(values) or 1
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step, height - pad - (v / top) * (height - 2 * pad)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{pad:.1f},{height - pad:.1f} {line} {points[-1][0]:.1f},{height - pad:.1f}"
    first, last = series[0][0], series[-1][0]
    return Markup(
        f'<svg class="dash-spark" viewBox="0 0 {width:g} {height + 14:g}" role="img" '
        f'aria-label="{escape(title)}">'
        f"<title>{escape(t('dash_chart_max', title=title, since=first, until=last, top=top))}</title>"
        f'<polygon points="{area}" fill="#f6d5cf"/>'
        f'<polyline points="{line}" fill="none" stroke="#c0392b" stroke-width="1.5"/>'
        f'<text x="{pad:g}" y="{height + 12:g}" font-size="10" fill="#666">{escape(first)}</text>'
        f'<text x="{width - pad:g}" y="{height + 12:g}" font-size="10" fill="#666" text-anchor="end">'
        f"{escape(last)}</text></svg>"
    )


def _bars(rows: list[tuple[str, float | int | None]], *, title: str, percent: bool = False) -> Markup:
    """Horizontal bars with their labels and values (SVG, one row per item)."""
    if not rows:
        return Markup("")
    width, row_h, label_w, value_w = 300.0, 18.0, 110.0, 48.0
    top = 1.0 if percent else float(max((v or 0) for _, v in rows) or 1)
    bar_w = width - label_w - value_w
    parts = [
        f'<svg class="dash-bars" viewBox="0 0 {width:g} {row_h * len(rows) + 2:g}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(rows):
        y = i * row_h + 1
        shown = _pct(value) if percent else _num(value)
        short = label if len(label) <= 9 else label[:8] + "…"
        length = 0.0 if value is None else bar_w * float(value) / top
        box = f'x="{label_w:g}" y="{y + 3:g}" height="{row_h - 6:g}"'
        parts.append(
            f'<text x="{label_w - 4:g}" y="{y + 13:g}" font-size="11" text-anchor="end" fill="#333">'
            f"{escape(short)}</text>"
            f'<rect {box} width="{bar_w:g}" fill="#f1f1f1"/>'
            f'<rect {box} width="{length:.1f}" fill="#c0392b"/>'
            f'<text x="{width - 2:g}" y="{y + 13:g}" font-size="11" text-anchor="end" fill="#333">'
            f"{escape(shown)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
