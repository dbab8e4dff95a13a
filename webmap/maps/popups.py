"""A grid's popup on the planner's map: its numbers, Gi* verdict, trend, monthly sparkline, top categories.

Popups are HTML built on the server, every user-supplied string escaped (``text``); the
layers carry them as JSON escaped for a script element (``choropleth.GridData``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webmap.maps.base import Translate
from webmap.maps.base import text


def sparkline_svg(
    values: Sequence[float], *, width: int = 200, height: int = 40, pad: int = 3, label: str = ""
) -> str:
    """An inline SVG line of monthly counts, one polyline point per month (no chart library)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    if v.size == 0:
        return ""
    top = float(v.max()) if v.size and v.max() > 0 else 1.0
    xs = np.full(1, width / 2) if v.size == 1 else pad + np.arange(v.size) * (width - 2 * pad) / (v.size - 1)
    ys = height - pad - v / top * (height - 2 * pad)
    points = " ".join(f"{px:.0f},{py:.0f}" for px, py in zip(xs.tolist(), ys.tolist(), strict=True))
    base = height - pad
    # colours as attributes (not only CSS): the sparkline must also read in an exported file
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{text(label)}"><path d="M{pad} {base}H{width - pad}" stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="{points}"/></svg>'
    )


@dataclass(frozen=True)
class GridFacts:
    """What a grid's popup says (strings as given: the popup escapes them)."""

    name: str | None
    code: str
    community: str | None
    count: int
    population: float | None
    rate: float | None
    gi_label: str
    gi_bin: int
    trend: str
    monthly: Sequence[int]
    months: Sequence[str]
    top: Sequence[tuple[str, int]]  # (category name, complaints)


def grid_popup(facts: GridFacts, tr: Translate) -> str:
    """A grid's popup: name and code, counts, rate, Gi*, monthly sparkline, top categories."""
    rate = "–" if facts.rate is None or not np.isfinite(facts.rate) else f"{facts.rate:.1f}"
    pop = "–" if facts.population is None or not np.isfinite(facts.population) else f"{facts.population:,.0f}"
    gi_class = "hot" if facts.gi_bin > 0 else "cold" if facts.gi_bin < 0 else "ns"
    rows = [
        (tr("pl_complaints"), f"{facts.count:,}"),
        (tr("pl_population"), pop),
        (tr("pl_rate"), rate),
    ]
    table = "".join(f"<tr><th>{text(k)}</th><td>{text(v)}</td></tr>" for k, v in rows)
    table += (
        f'<tr><th>Gi*</th><td><span class="gi gi-{gi_class}">{text(facts.gi_label)}</span></td></tr>'
        f"<tr><th>{text(tr('pl_trend'))}</th><td>{text(facts.trend)}</td></tr>"
    )
    span = ""
    if facts.months:
        peak = max(facts.monthly) if len(facts.monthly) else 0
        span = (
            f'<div class="spark-note">{text(facts.months[0])} – {text(facts.months[-1])} · '
            f"{text(tr('pl_peak', n=peak))}</div>"
        )
    spark = sparkline_svg(facts.monthly, label=tr("pl_monthly"))
    top = "".join(f"<li>{text(name)} <b>{n:,}</b></li>" for name, n in facts.top)
    top_html = f'<div class="pl-top">{text(tr("pl_top_categories"))}<ol>{top}</ol></div>' if top else ""
    community = f" · {text(facts.community)}" if facts.community else ""
    return (
        f'<div class="pl-pop" data-code="{text(facts.code)}">'
        f'<div class="pl-pop-title">{text(facts.name or facts.code)}</div>'
        f'<div class="pl-pop-code">{text(facts.code)}{community}</div>'
        f'<table class="pl-pop-table">{table}</table>'
        f'<div class="pl-spark">{spark}{span}</div>{top_html}</div>'
    )
