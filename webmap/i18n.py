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
    # issue 9, item 7: before/after photos on the case page
    "photo_before": ("受理照片", "Photo as reported"),
    "photo_after": ("处理后照片", "Photo after the work"),
    "photo_open": ("查看原图", "Open the photo"),
    "after_photos": ("处理后照片（办结时上传）", "After photos (added when resolving)"),
    "after_photos_hint": (
        "此类诉求须上传至少一张处理后照片方可办结",
        "This category is resolved only with at least one photo of the work done",
    ),
    "after_photo_required": (
        "此类诉求须先上传处理后照片方可办结，请在“处理后照片”中选择照片后再提交。",
        "This complaint is resolved only with an after photo: choose one under "
        "'After photos' and submit again.",
    ),
    "after_photo_added": ("已上传处理后照片 {n} 张", "{n} after photo(s) added"),
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
    "deadline_left": ("剩余 {n} 个工作日", "{n} working days left"),
    "deadline_left_one": ("剩余 1 个工作日", "1 working day left"),
    "deadline_left_under_one": ("剩余不足 1 个工作日", "less than a working day left"),
    "deadline_due_today": ("今日到期", "due today"),
    "deadline_overdue_days": ("已超期 {n} 天", "{n} days overdue"),
    "deadline_overdue_one": ("已超期 1 天", "1 day overdue"),
    "deadline_overdue_today": ("已超期", "overdue"),
    "deadline_provisional": ("暂定", "provisional"),
    "deadline_provisional_hint": (
        "按法定节假日暂定：当年放假安排公布并载入后重新计算",
        "Counted on the statutory holidays alone: recomputed once the year's official schedule is loaded",
    ),
    "filed": ("诉求已登记", "Complaint filed"),
    "conflict": (
        "该诉求已被他人修改，请刷新后重试",
        "Someone else changed this complaint; reload and try again",
    ),
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
    # dispatcher page and grid overview
    "search_label": ("地址、坐标或网格编码", "Address, coordinates or grid code"),
    "search_placeholder": (
        "如：奇槎大道1号 / 113.1457,23.1110 / 15位网格编码",
        "e.g. 奇槎大道1号 / 113.1457,23.1110 / a 15-digit grid code",
    ),
    "search_hint": (
        "输入中文地址、“经度,纬度”（选择坐标系）或15位网格编码；也可直接点击地图。",
        "Type a Chinese address, “lon,lat” (pick the coordinate system) or a 15-digit grid "
        "code, or click the map.",
    ),
    "search": ("查询", "Locate"),
    "searching": ("查询中…", "Locating…"),
    "coordsys_wgs84": ("WGS84（GPS）", "WGS84 (GPS)"),
    "coordsys_cgcs2000": ("CGCS2000（天地图）", "CGCS2000 (Tianditu)"),
    "coordsys_gcj02": ("GCJ-02（高德/腾讯）", "GCJ-02 (Amap/Tencent)"),
    "coordsys_bd09": ("BD-09（百度）", "BD-09 (Baidu)"),
    "grid_card": ("所属网格", "Grid"),
    "grid_code": ("网格编码", "Grid code"),
    "grid_name": ("网格名称", "Grid name"),
    "kind": ("城乡类别", "Urban/rural"),
    "kind_urban": ("城市社区", "urban"),
    "kind_rural": ("农村社区", "rural"),
    "version": ("网格版本", "Grid version"),
    "version_active": ("现行", "active"),
    "population": ("人口", "Population"),
    "team": ("网格团队", "Grid team"),
    "team_none": ("暂无在岗人员", "No one assigned"),
    "role": ("职务", "Role"),
    "name": ("姓名", "Name"),
    "phone": ("电话", "Phone"),
    "unit": ("所在层级", "Unit"),
    "unit_town": ("镇", "town"),
    "unit_community": ("社区", "community"),
    "unit_grid": ("网格", "grid"),
    "phones_masked": (
        "电话已部分隐藏；登录后可见完整号码。",
        "Phones are masked; log in to see them in full.",
    ),
    "role_leader": ("组长", "Leader"),
    "role_deputy_leader": ("副组长", "Deputy leader"),
    "role_instructor": ("指导员/小红格格长", "Instructor / grid chief"),
    "role_group_leader": ("小红格组长", "Group leader"),
    "role_grid_worker": ("网格员", "Grid worker"),
    "role_part_time_worker": ("兼职网格员", "Part-time grid worker"),
    "open_complaints": ("在办诉求", "Open complaints"),
    "open_complaints_none": ("该网格暂无在办诉求", "No open complaints in this grid"),
    "all_complaints_of_grid": ("查看该网格全部诉求", "All complaints of this grid"),
    "file_here": ("在此登记诉求", "File a complaint here"),
    "candidates": ("地址不确定，请选择", "The address is uncertain; choose one"),
    "not_found_address": ("未找到该地址", "Address not found"),
    "not_found_grid": ("未找到该网格编码", "No grid with this code"),
    "matched_address": ("匹配地址", "Matched address"),
    "point_at": ("查询点", "Point"),
    "outside_all": ("该点不在任何网格内", "The point is in no grid"),
    "warn_near_boundary": (
        "靠近网格边界：距{name}（{code}）{distance}米，请核实地址",
        "Near a grid boundary: {distance} m from {name} ({code}); confirm the address",
    ),
    "warn_on_boundary": (
        "该点位于共用边界上，同时接触：{grids}；按编码归属于编码最小的网格",
        "The point lies on a shared edge, also touching {grids}; it belongs to the grid with the lowest code",
    ),
    "warn_outside": (
        "该点不在任何网格内；最近的网格是{name}（{code}），相距{distance}米",
        "The point is in no grid; the nearest is {name} ({code}), {distance} m away",
    ),
    "warn_datum_suspect": ("坐标系可能选错", "The coordinate system may be wrong"),
    "warn_far_outside": ("该点远在本镇服务范围之外", "The point is far outside the town's area"),
    "warn_other": ("提示", "Note"),
    "error": ("出错了", "Something went wrong"),
    "map_click_hint": ("点击地图可查询该点所属网格", "Click the map to find the grid there"),
    "no_active_version": (
        "尚无现行网格版本，请先导入并启用网格。",
        "No grid version is active yet; import and activate one.",
    ),
    "grids_title": ("网格总览", "Grid overview"),
    "legend": ("图例（按社区着色）", "Legend (coloured by community)"),
    "grids_count": ("{n}个网格", "{n} grids"),
    "communities_count": ("{n}个社区", "{n} communities"),
    "kind_short_urban": ("城", "urban"),
    "kind_short_rural": ("农", "rural"),
    "layer_grids": ("网格", "Grids"),
    "layer_communities": ("社区边界", "Communities"),
    "layer_town": ("镇界", "Town"),
    "tip_name": ("网格", "Grid"),
    "tip_code": ("编码", "Code"),
    "tip_community": ("社区", "Community"),
    "tip_kind": ("类别", "Kind"),
    "show_version": ("显示", "Show"),
    "labels_hint": ("放大到14级以上显示网格名称", "Zoom to 14 or closer to see grid names"),
    # 研判 / planner page
    "pl_title": ("研判：诉求热点与趋势", "Planner: complaint hot spots and trends"),
    "pl_filters": ("筛选", "Filters"),
    "pl_since": ("起始日期", "From"),
    "pl_until": ("截止日期", "To"),
    "pl_categories": ("类别（可多选）", "Categories (several)"),
    "pl_states": ("状态", "Status"),
    "pl_channels": ("来源渠道", "Channels"),
    "pl_apply": ("应用", "Apply"),
    "pl_reset": ("清除筛选", "Clear filters"),
    "pl_bad_filter": (
        "已忽略无法识别的筛选条件：{items}",
        "Ignored filters that were not understood: {items}",
    ),
    "pl_summary": ("概况", "Summary"),
    "pl_total": ("符合条件的诉求", "Matching complaints"),
    "pl_in_grids": ("落在网格内", "Inside a grid"),
    "pl_months": ("月份", "Months"),
    "pl_hot_cold": ("热点 / 冷点网格", "Hot / cold spot grids"),
    "pl_grid_version": ("网格版本", "Grid version"),
    "pl_exports": ("导出", "Export"),
    "pl_export_csv": ("网格统计表 CSV", "Grid table (CSV)"),
    "pl_export_geojson": ("网格统计 GeoJSON", "Grid table (GeoJSON)"),
    "pl_export_html": ("地图 HTML 文件", "Map as HTML file"),
    "pl_export_html_note": (
        "HTML 文件包含全部数据，但地图脚本和样式从本系统（{root}）加载，打开时需能访问本系统。",
        "The HTML file holds all the data, but loads the map's scripts and styles "
        "from this service ({root}): it needs access to it when opened.",
    ),
    "pl_export_note": (
        "党建小红格研判地图 · 导出于 {when} · {n} 件诉求 · 脚本来自 {host}",
        "RedGrid planner map · exported {when} · {n} complaints · scripts from {host}",
    ),
    "pl_top_grids": ("诉求最多的网格", "Grids with most complaints"),
    "pl_method": ("方法说明", "Method"),
    "pl_method_text": (
        "热力图把诉求合并到约 50 米的格子并按件数加权（格子过多时，稀疏处合并为更大的格子）；"
        "逐月动画使用 250 米格子。分级设色采用 Fisher–Jenks 自然断点（5 级）。"
        "热点分析为 Getis-Ord Gi*（Queen 邻接、含自身、FDR 校正），按每千人诉求率计算；"
        "趋势为 Mann-Kendall 检验（仅用完整月份，FDR 校正）。",
        "The heat map merges complaints into ~50 m cells weighted by count (sparse areas "
        "into larger cells when there are too many); the monthly animation uses 250 m "
        "cells. Choropleths use Fisher–Jenks natural breaks (5 classes). Hot spots are "
        "Getis-Ord Gi* (Queen contiguity, self included, FDR-corrected) on complaints per "
        "1,000 residents; trends are Mann-Kendall tests on complete months (FDR-corrected).",
    ),
    "pl_all": ("全部", "All"),
    "pl_complaints": ("诉求数", "Complaints"),
    "pl_population": ("人口", "Population"),
    "pl_rate": ("每千人诉求", "Per 1,000 residents"),
    "pl_trend": ("趋势", "Trend"),
    "pl_peak": ("最高 {n} 件/月", "peak {n} a month"),
    "pl_monthly": ("逐月诉求数", "Complaints per month"),
    "pl_top_categories": ("主要类别", "Top categories"),
    "pl_gi_hot": ("热点 {conf}", "Hot spot {conf}"),
    "pl_gi_cold": ("冷点 {conf}", "Cold spot {conf}"),
    "pl_gi_ns": ("不显著", "Not significant"),
    "pl_gi_untested": ("未检验", "Not tested"),
    "pl_trend_short": ("完整月份不足，未检验", "Too few complete months to test"),
    "pl_trend_up": ("上升（{slope} 件/月）", "Rising ({slope} a month)"),
    "pl_trend_down": ("下降（{slope} 件/月）", "Falling ({slope} a month)"),
    "pl_trend_none": ("无显著趋势", "No significant trend"),
    "pl_layer_heat": ("热力图", "Heat map"),
    "pl_layer_animation": ("逐月动画", "Monthly animation"),
    "pl_layer_counts": ("网格诉求数", "Complaints per grid"),
    "pl_layer_rates": ("每千人诉求率", "Per 1,000 residents"),
    "pl_layer_hotspots": ("热点分析 Gi*", "Hot spots (Gi*)"),
    "pl_layer_h3": ("H3 六边形", "H3 hexagons"),
    "pl_layer_outlines": ("网格边界", "Grid outlines"),
    "pl_heat_note": (
        "{cell} 米格子，{n} 个加权点，共 {total} 件。",
        "{cell} m cells, {n} weighted points, {total} complaints;",
    ),
    "pl_heat_coarse": ("稀疏处合并为 {coarse} 米格子。", "sparse areas merged into {coarse} m cells."),
    "pl_few": ("少", "Few"),
    "pl_many": ("多", "Many"),
    "pl_anim_note": (
        "{cell} 米格子，{months} 个月；每格每月 {scale} 件及以上为最深色（最多 {peak} 件）。"
        "用左下角控件播放。",
        "{cell} m cells, {months} months; full colour at {scale} or more in a cell in a month "
        "(at most {peak}). Play with the control at the bottom left.",
    ),
    "pl_legend_counts": ("诉求数（件）", "Complaints"),
    "pl_legend_rates": ("每千人诉求", "Complaints per 1,000 residents"),
    "pl_legend_hotspots": ("热点分析（Getis-Ord Gi*）", "Hot spot analysis (Getis-Ord Gi*)"),
    "pl_legend_h3": ("H3 六边形（{res} 级）诉求数", "Complaints per H3 cell (resolution {res})"),
    "pl_fisher_jenks": ("Fisher–Jenks 自然断点，5 级", "Fisher–Jenks natural breaks, 5 classes"),
    "pl_no_population": ("无人口数据", "No population"),
    "pl_gi_note": ("Queen 邻接，FDR 校正；对象：{value}", "Queen contiguity, FDR-corrected; on {value}"),
    "pl_gi_value_rate": ("每千人诉求率", "complaints per 1,000 residents"),
    "pl_gi_value_count": ("诉求数", "complaint counts"),
    # issue 10, item 6: hot spots that do not mislead
    "pl_gi_hot_nearby": ("邻近热点 {conf}", "Next to a hot spot {conf}"),
    "pl_gi_cold_nearby": ("邻近冷点 {conf}", "Next to a cold spot {conf}"),
    "pl_gi_window": ("Gi*（含邻近网格）", "Gi* (neighbours included)"),
    "pl_gi_own": ("本网格 {n} 件", "{n} in this grid"),
    "pl_gi_flag_note": (
        "Gi* 检验的是“本网格＋相邻网格”的窗口，标记为“热点（含邻近网格）”。"
        "“热点”：窗口显著偏高，且本网格自身诉求不少于 {min_own} 件、高于全镇平均；"
        "“邻近热点”：窗口显著偏高，但本网格自身诉求为 0 或不高于平均，只因邻近网格而显著，"
        "不单独视为热点。相连的热点网格合为一个热点簇。",
        "Gi* tests a window, the grid and its neighbours: the flag means “hot, neighbours included”. "
        "“Hot spot”: the window is significantly high and the grid itself has at least {min_own} "
        "complaint(s), above the town's mean; “next to a hot spot”: the window is significantly high "
        "but the grid's own count is zero or not above the mean, significant only through its "
        "neighbours, not a hot spot on its own. Touching hot grids form one hot cluster.",
    ),
    "pl_gi_nearby_legend": ("邻近热点：本网格自身不高", "Next to a hot spot: own count not high"),
    "pl_gi_cold_nearby_legend": ("邻近冷点：本网格自身不低", "Next to a cold spot: own count not low"),
    "pl_cluster": ("热点簇", "Hot cluster"),
    "pl_cluster_value": ("#{id}：{size} 个网格，共 {total} 件", "#{id}: {size} grids, {total} complaints"),
    "pl_clusters": ("热点簇", "Hot clusters"),
    "pl_eb_rate": ("每千人诉求（平滑）", "Per 1,000 (smoothed)"),
    "pl_rate_eb_note": (
        "经验贝叶斯平滑：人口少的网格向全镇平均收缩；Fisher–Jenks 自然断点，5 级",
        "Empirical Bayes smoothed: small populations are pulled towards the town's rate; "
        "Fisher–Jenks natural breaks, 5 classes",
    ),
    "pl_gi_value_rate_eb": (
        "每千人诉求率（经验贝叶斯平滑）",
        "complaints per 1,000 residents (empirical Bayes smoothed)",
    ),
    "pl_layer_moran": ("局部 Moran 指数", "Local Moran (LISA)"),
    "pl_legend_moran": ("局部空间自相关（LISA）", "Local spatial autocorrelation (LISA)"),
    "pl_lisa": ("LISA", "LISA"),
    "pl_lisa_HH": ("高-高：高值被高值包围", "High-high: high among high"),
    "pl_lisa_LL": ("低-低：低值被低值包围", "Low-low: low among low"),
    "pl_lisa_HL": ("高-低：高值孤立", "High-low: a high outlier"),
    "pl_lisa_LH": ("低-高：低值被高值包围", "Low-high: low among high"),
    "pl_lisa_ns": ("不显著", "Not significant"),
    "pl_lisa_note": (
        "Queen 邻接、行标准化，置换检验，FDR 校正（α = 0.05）；对象：{value}",
        "Queen contiguity, row-standardised, permutation z, FDR-corrected (α = 0.05); on {value}",
    ),
    "pl_layer_emerging": ("时空热点趋势", "Emerging hot spots"),
    "pl_legend_emerging": ("时空热点趋势（逐月 Gi*）", "Emerging hot spots (monthly Gi*)"),
    "pl_emerging": ("时空趋势", "Emerging"),
    "pl_emerging_note": (
        "{months} 个完整月份的逐月 Gi*（同月 Queen 邻接及上一月，FDR 校正），"
        "z 值序列做 Mann-Kendall 检验，分类依 ArcGIS 时空热点分析。",
        "Gi* per complete month ({months}; Queen neighbours in the same and the previous month, "
        "FDR-corrected), Mann-Kendall on each grid's z series, classes as in ArcGIS's Emerging "
        "Hot Spot Analysis.",
    ),
    "pl_emerging_short": ("完整月份不足，未分析", "Too few complete months to analyse"),
    "pl_emerging_new_hot": ("新增热点", "New hot spot"),
    "pl_emerging_consecutive_hot": ("连续热点", "Consecutive hot spot"),
    "pl_emerging_intensifying_hot": ("加剧热点", "Intensifying hot spot"),
    "pl_emerging_persistent_hot": ("持续热点", "Persistent hot spot"),
    "pl_emerging_diminishing_hot": ("减弱热点", "Diminishing hot spot"),
    "pl_emerging_sporadic_hot": ("零星热点", "Sporadic hot spot"),
    "pl_emerging_oscillating_hot": ("振荡热点", "Oscillating hot spot"),
    "pl_emerging_historical_hot": ("历史热点", "Historical hot spot"),
    "pl_emerging_new_cold": ("新增冷点", "New cold spot"),
    "pl_emerging_consecutive_cold": ("连续冷点", "Consecutive cold spot"),
    "pl_emerging_intensifying_cold": ("加剧冷点", "Intensifying cold spot"),
    "pl_emerging_persistent_cold": ("持续冷点", "Persistent cold spot"),
    "pl_emerging_diminishing_cold": ("减弱冷点", "Diminishing cold spot"),
    "pl_emerging_sporadic_cold": ("零星冷点", "Sporadic cold spot"),
    "pl_emerging_oscillating_cold": ("振荡冷点", "Oscillating cold spot"),
    "pl_emerging_historical_cold": ("历史冷点", "Historical cold spot"),
    "pl_emerging_no_pattern": ("无模式", "No pattern"),
    "pl_sort_hint": ("点击列标题排序", "Click a column heading to sort"),
    "pl_top_grids_z": (
        "诉求最多及 Gi* z 值最高的网格",
        "Grids with most complaints or highest Gi* z",
    ),
    "error_400": ("请求有误", "Bad request"),
    "error_401": ("请先登录", "Please log in"),
    "error_403": ("无权访问", "Not allowed"),
    "error_404": ("页面或记录不存在", "Not found"),
    "error_409": ("记录已被他人修改", "Changed by someone else"),
    "error_413": ("内容过大", "Too large"),
    "error_415": ("不支持的文件类型", "Unsupported file type"),
    "error_422": ("无法按要求处理", "Cannot be done as asked"),
    "error_429": ("请求过于频繁", "Too many requests"),
    "error_503": ("服务暂不可用", "Service unavailable"),
    "error_other": ("出错了", "Something went wrong"),
    "error_back": ("返回调度首页", "Back to the dispatcher page"),
    # issue 9, item 11: a resident's progress page (/progress)
    "progress_title": ("诉求办理进度查询", "Check the progress of your report"),
    "progress_intro": (
        "请输入受理时告知您的工单编号，以及反映问题时所留手机号码的后四位。",
        "Enter the ticket number you were given and the last four digits of the phone number "
        "you left when you reported.",
    ),
    "progress_ticket": ("工单编号", "Ticket number"),
    "progress_ticket_hint": (
        "诉求编号（数字）或热线等渠道给出的工单编号",
        "The case number (digits) or the ticket number the hotline or other channel gave you",
    ),
    "progress_phone_last4": ("手机号码后四位", "Last four digits of your phone"),
    "progress_submit": ("查询", "Check"),
    "progress_not_found": (
        "未查到与该工单编号和手机号码后四位相符的诉求，请核对后重试。",
        "No report matches this ticket number and these phone digits; check them and try again.",
    ),
    "progress_state": ("办理状态", "Status"),
    "progress_reported": ("受理时间", "Received"),
    "progress_updated": ("最近更新", "Last update"),
    "progress_department": ("承办部门", "Handled by"),
    "progress_steps": ("办理进程", "Progress"),
    "progress_privacy": (
        "为保护个人信息，本页只显示办理状态、时间和承办部门。",
        "To protect personal information, this page shows only the status, the dates and the department.",
    ),
    "progress_again": ("查询其他诉求", "Check another report"),
    "progress_stage_received": ("已受理", "Received"),
    "progress_stage_in_progress": ("办理中", "Being handled"),
    "progress_stage_answered": ("已答复（待回访）", "Answered (follow-up call pending)"),
    "progress_stage_closed": ("已办结", "Closed"),
    "progress_stage_rejected": ("不予受理", "Not accepted"),
    "progress_stage_merged": ("已合并办理", "Handled with an earlier report"),
    # 领导驾驶舱 / the leaders' dashboard
    "nav_dashboard": ("驾驶舱", "Dashboard"),
    "dash_title": ("领导驾驶舱", "Leaders' dashboard"),
    "dash_today": ("今日", "Today"),
    "dash_week": ("本周", "This week"),
    "dash_month": ("本月", "This month"),
    "dash_period": ("本期", "This period"),
    "dash_previous": ("上期", "Previous"),
    "dash_change": ("变化", "Change"),
    "dash_as_of": ("数据截至", "As of"),
    "dash_anchor": ("基准日期", "Reference date"),
    "dash_show": ("查看", "Show"),
    "dash_received": ("受理量", "Received"),
    "dash_closed": ("办结量", "Closed"),
    "dash_on_time_rate": ("按时办结率", "On-time rate"),
    "dash_satisfaction": ("满意率", "Satisfaction"),
    "dash_reopen_rate": ("重办率", "Reopen rate"),
    "dash_overdue": ("本期超期", "Overdue (this period)"),
    "dash_deliberations": ("多元议事", "Deliberations"),
    "dash_whistles": ("吹哨", "Whistles"),
    "dash_whistles_missing": (
        "吹哨报到尚无记录（吹哨功能上线后统计）",
        "No whistle (吹哨) records yet: counted once whistles are recorded",
    ),
    "dash_trend": ("受理趋势", "Complaints received"),
    "dash_on_time_by_department": ("各部门按时办结率", "On-time rate by department"),
    "dash_department": ("部门", "Department"),
    "dash_dispatched": ("派单", "Dispatched"),
    "dash_resolved": ("已办结", "Resolved"),
    "dash_overdue_open": ("超期未办", "Overdue open"),
    "dash_overdue_list": ("超期清单（全部在办超期件）", "Overdue now (all open cases)"),
    "dash_overdue_shown": ("共 {total} 件，显示前 {shown} 件", "{total} in all, first {shown} shown"),
    "dash_id": ("编号", "No."),
    "dash_category": ("类别", "Category"),
    "dash_community": ("社区", "Community"),
    "dash_grid": ("网格", "Grid"),
    "dash_days_overdue": ("超期天数", "Days overdue"),
    "dash_community_ranking": ("社区受理量排名", "Communities by complaints"),
    "dash_grid_ranking": ("网格受理量排名", "Grids by complaints"),
    "dash_rank": ("排名", "Rank"),
    "dash_count": ("受理量", "Received"),
    "dash_export": ("导出 Excel", "Export to Excel"),
    "dash_none": ("暂无数据", "No data"),
    "dash_rate_note": (
        "按时办结率：已有结果（已办结或已过期限）的派单中按时办结的比例；满意率按回访次数计；"
        "重办率：本期受理并曾办结的诉求中被重新办理的比例。上期为完整的前一日、周或月。",
        "On-time rate: resolved on time over dispatches whose outcome is known"
        " (resolved or past the deadline); satisfaction counts follow-up calls; reopen rate:"
        " of this period's complaints resolved at least once, the share reopened."
        " The previous period is the whole previous day, week or month.",
    ),
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
