"""Page text in Chinese (zh-CN, the default) and English, chosen by ?lang= or a cookie.

A dictionary rather than gettext catalogues: the pages have a few hundred strings,
and one file that shows both languages side by side is what a translator here needs.
"""

from __future__ import annotations

from flask import Flask
from flask import g
from flask import request

LANGS = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    "app_name": ("党建小红格 · 网格服务", "RedGrid grid service"),
    "nav_dispatch": ("调度", "Dispatch"),
    "nav_planner": ("研判", "Planner"),
    "nav_grids": ("网格总览", "Grids"),
    "nav_complaints": ("诉求", "Complaints"),
    "nav_new_complaint": ("登记诉求", "New complaint"),
    "nav_stats": ("统计", "Statistics"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong username or password"),
    "logged_out": ("已退出登录", "Logged out"),
    "public_view": ("公众视图（电话已隐藏）", "Public view (phones masked)"),
    "switch_lang": ("English", "中文"),
    "complaint": ("诉求", "Complaint"),
    "category": ("类别", "Category"),
    "channel": ("来源渠道", "Channel"),
    "text": ("诉求内容", "What is reported"),
    "address": ("地址", "Address"),
    "coordinates": ("坐标", "Coordinates"),
    "coordsys": ("坐标系", "Coordinate system"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "reporter_name": ("反映人", "Reporter"),
    "reporter_phone": ("联系电话", "Reporter phone"),
    "reported_at": ("受理时间", "Reported at"),
    "external_id": ("工单编号", "Ticket number"),
    "photos": ("照片", "Photos"),
    "submit": ("提交", "Submit"),
    "state": ("状态", "Status"),
    "grid": ("网格", "Grid"),
    "community": ("社区", "Community"),
    "department": ("部门", "Department"),
    "deadline": ("办理时限", "Deadline"),
    "history": ("办理过程", "History"),
    "note": ("备注", "Note"),
    "satisfied": ("满意", "Satisfied"),
    "not_satisfied": ("不满意", "Not satisfied"),
    "overdue": ("已超期", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "on_time": ("期限内", "On time"),
    "filed": ("诉求已登记", "Complaint filed"),
    "conflict": ("该诉求已被他人修改，请刷新后重试",
                 "Someone else changed this complaint; reload and try again"),
    "no_results": ("没有记录", "Nothing found"),
    "state_collected": ("诉求收集", "Collected"),
    "state_deliberation": ("多元议事", "Deliberation"),
    "state_resolved_on_site": ("就地调处", "Resolved on site"),
    "state_dispatched": ("已派单", "Dispatched"),
    "state_resolved": ("问题化解", "Resolved"),
    "state_follow_up": ("回访中", "Follow-up"),
    "state_closed": ("已办结", "Closed"),
    "state_reopened": ("不满意重办", "Reopened"),
    "state_rejected": ("不予受理", "Rejected"),
    "state_duplicate": ("重复诉求", "Duplicate"),
    "action_deliberate": ("提交议事", "Deliberate"),
    "action_resolve_on_site": ("就地调处", "Resolve on site"),
    "action_dispatch": ("派单", "Dispatch"),
    "action_resolve": ("办结反馈", "Mark resolved"),
    "action_start_follow_up": ("开始回访", "Start follow-up"),
    "action_follow_up": ("回访结果", "Follow-up result"),
    "action_reopen": ("重新打开", "Reopen"),
    "action_reject": ("不予受理", "Reject"),
    "action_mark_duplicate": ("标记重复", "Mark duplicate"),
    "channel_hotline": ("12345热线", "Hotline"),
    "channel_wechat": ("微信", "WeChat"),
    "channel_patrol": ("网格员巡查", "Grid patrol"),
    "channel_walk_in": ("来访", "Walk-in"),
    "channel_app": ("手机应用", "App"),
    "channel_system": ("系统对接", "Other system"),
}


def lang() -> str:
    if "lang" not in g:
        chosen = request.args.get("lang") or request.cookies.get("lang") or "zh"
        g.lang = chosen if chosen in LANGS else "zh"
    return g.lang


def t(key: str, **values) -> str:
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[LANGS.index(lang())]
    return text.format(**values) if values else text


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(t=t, lang=lang)

    @app.after_request
    def _remember(response):
        if request.args.get("lang") in LANGS:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 86400, samesite="Lax")
        return response
