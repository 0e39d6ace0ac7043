/* Chinese and English labels; Chinese is the default (the bureau's staff). */
(function (root) {
  "use strict";
  const zh = {
    title: "蓝盾 · 运输车辆监管中心", subtitle: "无锡市城市管理局 · 建筑垃圾与餐厨垃圾收运监管",
    username: "用户名", password: "密码", login: "登录", logout: "退出", login_failed: "用户名或密码错误",
    fleet: "车辆总览", total: "在线车辆", legend: "图例", alerts: "实时告警", open_cases: "待办案件",
    state_on_trip: "运输中", state_loaded: "重车", state_idle: "空闲", state_offline: "离线", state_violation: "违规",
    case_open: "待派遣", case_dispatched: "已派遣", case_handled: "已处置", case_closed: "已结案", case_dismissed: "不予立案",
    act_dispatched: "派遣", act_handled: "处置", act_closed: "结案", act_dismissed: "不予立案",
    dismiss_reason: "不予立案原因：", note_prompt: "备注（可选）：",
    vehicle: "车辆", district: "辖区", time: "时间", severity: "等级", fence: "围栏", permit: "核准", rule: "规则", history: "办案记录",
    sev_low: "低", sev_medium: "中", sev_high: "高", sev_critical: "严重",
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
  };
  const en = {
    title: "Blue Shield · Vehicle Supervision Center", subtitle: "Wuxi Urban Management Bureau · construction and kitchen waste transport",
    username: "Username", password: "Password", login: "Log in", logout: "Log out", login_failed: "Wrong username or password",
    fleet: "Fleet", total: "Vehicles", legend: "Legend", alerts: "Live alerts", open_cases: "Open cases",
    state_on_trip: "On trip", state_loaded: "Loaded", state_idle: "Idle", state_offline: "Offline", state_violation: "Violation",
    case_open: "Open", case_dispatched: "Dispatched", case_handled: "Handled", case_closed: "Closed", case_dismissed: "Dismissed",
    act_dispatched: "Dispatch", act_handled: "Handle", act_closed: "Close", act_dismissed: "Dismiss",
    dismiss_reason: "Reason for dismissal:", note_prompt: "Note (optional):",
    vehicle: "Vehicle", district: "District", time: "Time", severity: "Severity", fence: "Fence", permit: "Permit", rule: "Rule", history: "Case trail",
    sev_low: "low", sev_medium: "medium", sev_high: "high", sev_critical: "critical",
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
