/* Chinese and English labels; Chinese is the default (the bureau's staff). */
(function (root) {
  "use strict";
  const zh = {
    title: "蓝盾 · 运输车辆监管中心", subtitle: "无锡市城市管理局 · 建筑垃圾与餐厨垃圾收运监管",
    username: "用户名", password: "密码", login: "登录", logout: "退出", login_failed: "用户名或密码错误",
    fleet: "车辆总览", legend: "图例", alerts: "实时告警", open_cases: "待办案件",
    state_on_trip: "运输中", state_loaded: "重车", state_idle: "空闲", state_offline: "离线", state_violation: "违规",
    case_open: "待派遣", case_dispatched: "已派遣", case_handled: "已处置", case_closed: "已结案", case_dismissed: "不予立案",
    act_dispatched: "派遣", act_handled: "处置", act_closed: "结案", act_dismissed: "不予立案",
    vehicle: "车辆", district: "辖区", time: "时间", severity: "等级", fence: "围栏", permit: "核准", rule: "规则", history: "办案记录",
    fence_site: "源头工地", fence_transfer: "换装点/码头", fence_terminal: "消纳场", fence_producer: "餐厨产生单位",
    fence_plant: "处理厂", fence_restricted: "禁行区", fence_depot: "停车场", fence_corridor: "核准路线",
    unmatched_source: "有源无终", unmatched_disposal: "有终无源", unapproved_terminal: "未按核准地点处置",
    unpermitted_load: "无证运输", route_deviation: "偏离核准路线", restricted_zone: "闯禁区",
    overspeed: "超速", suspected_dumping: "疑似偷倒", signal_lost: "离线/信号屏蔽", uncovered_load: "未密闭",
    unregistered_collection: "非法收运", undelivered_collection: "收运不匹配", unsourced_delivery: "来源不明",
    role_admin: "管理员", role_city: "市级监管", role_district: "区级监管", role_enforcement: "执法队员", role_viewer: "只读",
    link_up: "实时连接", link_down: "连接中断", late: "补传",
    replay: "回放", replay_link: "回放", replay_vehicles: "车辆（可多选，逗号分隔）", replay_from: "开始（北京时间）",
    replay_to: "结束（北京时间）", replay_load: "加载", replay_close: "退出回放", replay_play: "播放", replay_pause: "暂停",
    replay_bj: "北京时间", replay_empty: "空车", replay_loaded: "重车", replay_chunks: "已加载", replay_violating: "违规", replay_stop: "停留",
    replay_buffering: "缓冲中…", replay_none: "无权查看或无记录", replay_bad: "请填写车辆和有效的时间范围",
    unit_min: "分", unit_s: "秒",
    // issue 13: the duty officer's console
    sev_critical: "紧急", sev_high: "严重", sev_medium: "一般",
    clock_bj: "北京时间", clock_sim: "模拟数据时间",
    link_sim: "模拟中…", link_wait: "等待数据", sound_on: "告警声：开", sound_off: "告警声：关",
    search: "车辆查询", search_placeholder: "车牌 / 编号 / 公司 / 终端号", search_none: "无匹配车辆",
    filters: "筛选", filter_district: "辖区", filter_company: "公司", filter_kind: "车型", filter_state: "状态",
    filter_type: "告警类型", filter_clear: "清除筛选", all: "全部",
    kind_muck: "渣土车", kind_kitchen: "餐厨车", kind_oil: "油脂车",
    count_total: "车辆总数（有定位记录）", split_online: "在线 / 离线", split_moving: "在线车辆：行驶 / 停车",
    count_online: "在线", count_offline: "离线", count_moving: "行驶（≥5 km/h）", count_parked: "停车",
    count_loaded: "重车（在线）", count_violating: "违规中（在线）", counts_note: "重车与违规为标记：一辆重车违规时两项都计入。",
    plate: "车牌", vehicle_id: "车辆编号", company: "运输公司", kind: "车型", speed: "车速", state: "状态",
    terminal_phone: "终端号", last_fix: "最后定位", no_fix: "无定位", trip: "当前趟次", no_trip: "无", no_permit: "无",
    trip_open: "运输中", trip_delivered: "已交付", trip_unapproved: "未按核准地点处置", trip_unmatched: "未到终点",
    trip_undelivered: "未交付", trip_no_collection: "无收运", source: "源头", loaded_yes: "重车", loaded_no: "空车",
    started: "开始", valid_to: "有效至", terminals: "核准消纳点", replay_hour: "回放最近一小时", locate: "定位",
    vehicle_alerts: "该车告警", no_alerts: "暂无告警", vehicle_card: "车辆档案", close: "关闭",
    popup_title: "紧急告警", popup_view: "查看", popup_close: "知道了",
    overdue: "已超期", assignee: "处置人/队", deadline: "期限", deadline_bj: "处置期限（北京时间）", reason: "原因",
    choose: "请选择", note: "备注（可选）", note_required: "处置说明（必填）", submit: "提交", cancel: "取消",
    team_suffix: "城管执法中队", team_city: "市城管执法支队",
    missing_assignee: "请填写处置人或队伍", missing_deadline: "请填写处置期限", missing_deadline_past: "期限须晚于现在",
    missing_reason: "请选择原因", missing_note_for_other: "选择“其他”时请填写说明", missing_note: "请填写说明",
    cases: "今日案件", cases_today: "案件列表", day_bj: "日期（北京时间）", case_state: "案件状态", alert_type: "告警类型",
    overdue_only: "仅超期",
    ev_speed: "车速 {speed} km/h（限速 {limit}）", ev_sustained: "持续 {d}", ev_deviation: "偏离路线 {m} 米（平均 {mean} 米）",
    ev_corridor: "核准路线 {name}", ev_dwell: "停留 {d}", ev_lift: "举升卸料（货箱抬起）", ev_nearest: "最近场所 {name}（{m} 米）",
    ev_no_place: "5 公里内无已知场所", ev_poach: "他人合同 {id}（{company}）", ev_unregistered: "停靠点非登记产生单位",
    ev_gap: "信号中断 {d}，前后位移 {m} 米", ev_gap_open: "信号中断，尚未恢复", ev_uncovered: "未密闭行驶 {d}，最高 {speed} km/h",
    ev_loaded_at: "装载 {time}（{site}）", ev_deadline: "卸载期限 {time}", ev_resolved: "补传显示已于 {time} 在 {name} 卸载",
    ev_reason: "原因：{reason}", ev_permits_checked: "已核查核准证：{ids}", ev_unloaded_at: "卸载地点 {name}",
    ev_approved: "核准消纳点：{ids}", ev_no_load: "无装载记录", ev_zone: "禁区 {name}，禁行时段 {window}",
    ev_delivered_at: "交付地点 {name}", ev_last_delivery: "上次交付 {time}", ev_collections: "已收运 {n} 处，交付期限 {time}",
    ev_permit: "核准证 {id}", ev_late: "补传数据", ev_none: "无",
    "why_no permit names this vehicle for this site": "无该车在此工地的核准证",
    "why_permit not valid on this date": "核准证不在有效期内", "why_loaded outside the permit's hours": "核准时段外装载",
    "why_left the site outside the permit's hours": "核准时段外驶离工地",
    unit_sec: " 秒", unit_minutes: " 分钟",
    "rule:collection at a producer on another company's contract (poaching)": "在他公司合同的产生单位收运（抢收）",
    "rule:collections not delivered to a plant within the round deadline": "收运后未在期限内交付处理厂",
    "rule:delivery at a plant with no recorded collection since the last delivery": "自上次交付以来无收运记录即交付处理厂",
    "rule:inside a restricted zone during its hours, for a vehicle kind it restricts": "禁行时段内驶入限制该车型的禁区",
    "rule:load dwell at a site with no valid permit for the vehicle, site, date and hours": "在工地装载，但无该车、该工地、该日期和时段有效的核准证",
    "rule:loaded and farther than the tolerance from every corridor of the permit": "重车偏离核准证所有路线超过容差",
    "rule:loaded stop outside every known place": "重车在所有已知场所外停留",
    "rule:loaded, moving and cover open on every ping for the sustain time": "重车行驶且持续时间内每次定位均未密闭",
    "rule:no live position while a trip or round is under way": "运输或收运途中无实时定位",
    "rule:no unload at a terminal or transfer point within the deadline after leaving the site": "驶离工地后期限内未在消纳场或换装点卸载",
    "rule:speed above the limit on every ping for the sustain time": "持续时间内每次定位车速均超过限速",
    "rule:stop in one place outside every registered producer, plant and depot": "在登记产生单位、处理厂和停车场之外停留",
    "rule:tipper raised outside every terminal and transfer point": "在消纳场和换装点之外举升货箱",
    "rule:unload dwell at a terminal or transfer point the permit does not list": "在核准证未列明的消纳场或换装点卸载",
    "rule:unload dwell at a terminal or transfer point with no recorded load": "在消纳场或换装点卸载，但无装载记录",
  };
  const en = {
    title: "Blue Shield · Vehicle Supervision Center", subtitle: "Wuxi Urban Management Bureau · construction and kitchen waste transport",
    username: "Username", password: "Password", login: "Log in", logout: "Log out", login_failed: "Wrong username or password",
    fleet: "Fleet", legend: "Legend", alerts: "Live alerts", open_cases: "Open cases",
    state_on_trip: "On trip", state_loaded: "Loaded", state_idle: "Idle", state_offline: "Offline", state_violation: "Violation",
    case_open: "Open", case_dispatched: "Dispatched", case_handled: "Handled", case_closed: "Closed", case_dismissed: "Dismissed",
    act_dispatched: "Dispatch", act_handled: "Handle", act_closed: "Close", act_dismissed: "Dismiss",
    vehicle: "Vehicle", district: "District", time: "Time", severity: "Severity", fence: "Fence", permit: "Permit", rule: "Rule", history: "Case trail",
    fence_site: "Site", fence_transfer: "Transfer / wharf", fence_terminal: "Terminal", fence_producer: "Producer",
    fence_plant: "Plant", fence_restricted: "Restricted", fence_depot: "Depot", fence_corridor: "Approved route",
    unmatched_source: "Load never delivered", unmatched_disposal: "Unload without load", unapproved_terminal: "Unapproved terminal",
    unpermitted_load: "Load without permit", route_deviation: "Route deviation", restricted_zone: "Restricted zone",
    overspeed: "Overspeed", suspected_dumping: "Suspected dumping", signal_lost: "Signal lost", uncovered_load: "Uncovered load",
    unregistered_collection: "Unregistered collection", undelivered_collection: "Undelivered collection", unsourced_delivery: "Unsourced delivery",
    role_admin: "Admin", role_city: "City supervisor", role_district: "District officer", role_enforcement: "Enforcement", role_viewer: "Viewer",
    link_up: "Live", link_down: "Disconnected", late: "late",
    replay: "Replay", replay_link: "Replay", replay_vehicles: "Vehicles (comma-separated)", replay_from: "From (Beijing time)",
    replay_to: "To (Beijing time)", replay_load: "Load", replay_close: "Leave replay", replay_play: "Play", replay_pause: "Pause",
    replay_bj: "Beijing time", replay_empty: "Empty", replay_loaded: "Loaded", replay_chunks: "Fetched", replay_violating: "Violating", replay_stop: "Stop",
    replay_buffering: "Buffering…", replay_none: "not visible or no record", replay_bad: "Give vehicles and a valid time range",
    unit_min: " min ", unit_s: " s",
    // issue 13: the duty officer's console
    sev_critical: "Critical", sev_high: "High", sev_medium: "Medium",
    clock_bj: "Beijing time", clock_sim: "simulated data time",
    link_sim: "simulating…", link_wait: "waiting for data", sound_on: "Alarm sound: on", sound_off: "Alarm sound: off",
    search: "Find a vehicle", search_placeholder: "plate / id / company / terminal", search_none: "No matching vehicle",
    filters: "Filters", filter_district: "District", filter_company: "Company", filter_kind: "Kind", filter_state: "State",
    filter_type: "Alert type", filter_clear: "Clear filters", all: "All",
    kind_muck: "Muck truck", kind_kitchen: "Kitchen waste", kind_oil: "Waste oil",
    count_total: "Vehicles (with a position record)", split_online: "Online / offline", split_moving: "Online: moving / parked",
    count_online: "Online", count_offline: "Offline", count_moving: "Moving (≥5 km/h)", count_parked: "Parked",
    count_loaded: "Loaded (online)", count_violating: "In violation (online)", counts_note: "Loaded and in violation are flags: a loaded truck in violation counts in both.",
    plate: "Plate", vehicle_id: "Vehicle id", company: "Company", kind: "Kind", speed: "Speed", state: "State",
    terminal_phone: "Terminal", last_fix: "Last fix", no_fix: "no fix", trip: "Current trip", no_trip: "none", no_permit: "none",
    trip_open: "under way", trip_delivered: "delivered", trip_unapproved: "unapproved terminal", trip_unmatched: "never delivered",
    trip_undelivered: "undelivered", trip_no_collection: "no collection", source: "source", loaded_yes: "loaded", loaded_no: "empty",
    started: "started", valid_to: "valid to", terminals: "terminals", replay_hour: "Replay last hour", locate: "Locate",
    vehicle_alerts: "Its alerts", no_alerts: "No alerts", vehicle_card: "Vehicle card", close: "Close",
    popup_title: "Critical alert", popup_view: "View", popup_close: "Got it",
    overdue: "Overdue", assignee: "Assignee", deadline: "Deadline", deadline_bj: "Deadline (Beijing time)", reason: "Reason",
    choose: "Choose…", note: "Note (optional)", note_required: "Note (required)", submit: "Submit", cancel: "Cancel",
    team_suffix: " enforcement squad", team_city: "City enforcement brigade",
    missing_assignee: "Give a team or officer", missing_deadline: "Give a deadline", missing_deadline_past: "The deadline must be in the future",
    missing_reason: "Choose a reason", missing_note_for_other: "“Other” needs a note", missing_note: "Give a note",
    cases: "Today's cases", cases_today: "Cases", day_bj: "Day (Beijing)", case_state: "Case state", alert_type: "Alert type",
    overdue_only: "Overdue only",
    ev_speed: "Speed {speed} km/h (limit {limit})", ev_sustained: "for {d}", ev_deviation: "{m} m off the route (mean {mean} m)",
    ev_corridor: "Approved route {name}", ev_dwell: "Stopped {d}", ev_lift: "Tipper raised", ev_nearest: "Nearest place {name} ({m} m)",
    ev_no_place: "No known place within 5 km", ev_poach: "Another company's contract {id} ({company})", ev_unregistered: "Not a registered producer",
    ev_gap: "No signal for {d}, moved {m} m", ev_gap_open: "No signal, not yet seen again", ev_uncovered: "Uncovered for {d}, up to {speed} km/h",
    ev_loaded_at: "Loaded {time} ({site})", ev_deadline: "Unload deadline {time}", ev_resolved: "Late data shows the unload at {name}, {time}",
    ev_reason: "Reason: {reason}", ev_permits_checked: "Permits checked: {ids}", ev_unloaded_at: "Unloaded at {name}",
    ev_approved: "Approved terminals: {ids}", ev_no_load: "No recorded load", ev_zone: "Zone {name}, hours {window}",
    ev_delivered_at: "Delivered at {name}", ev_last_delivery: "Previous delivery {time}", ev_collections: "{n} collections, deliver by {time}",
    ev_permit: "Permit {id}", ev_late: "late data", ev_none: "none",
    "why_no permit names this vehicle for this site": "no permit names this vehicle for this site",
    "why_permit not valid on this date": "permit not valid on this date", "why_loaded outside the permit's hours": "loaded outside the permit's hours",
    "why_left the site outside the permit's hours": "left the site outside the permit's hours",
    unit_sec: " s", unit_minutes: " min",
  };
  const DISTRICTS_EN = { 梁溪: "Liangxi", 锡山: "Xishan", 惠山: "Huishan", 滨湖: "Binhu", 新吴: "Xinwu", 经开: "Jingkai", 江阴: "Jiangyin", 宜兴: "Yixing" };
  let lang = root.sessionStorage.getItem("landun.lang") || "zh";

  function t(key) {
    const table = lang === "en" ? en : zh;
    return table[key] || zh[key] || key;
  }

  function district(name) {
    return lang === "en" ? DISTRICTS_EN[name] || name || "" : name || "";
  }

  function apply() {
    root.document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    root.document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  }

  function toggle() {
    lang = lang === "zh" ? "en" : "zh";
    root.sessionStorage.setItem("landun.lang", lang);
    apply();
  }

  root.LandunI18n = { t, district, apply, toggle, get lang() { return lang; } };
})(window);
