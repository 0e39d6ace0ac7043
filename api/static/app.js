/* The supervision-center page: login, the two websockets, counters, the alert panel and cases.
 * Every server string is put into the page as text (textContent), never as HTML. */
(function (root) {
  "use strict";
  const doc = root.document;
  const { t, district } = root.LandunI18n;
  const NEXT = { open: ["dispatched", "dismissed"], dispatched: ["handled", "dismissed"], handled: ["closed"] };
  const ACTORS = {
    dispatched: ["admin", "city", "district", "enforcement"],
    handled: ["admin", "district", "enforcement"],
    closed: ["admin", "city", "district", "enforcement"],
    dismissed: ["admin", "city", "district"],
  };
  const state = { token: root.sessionStorage.getItem("landun.token"), user: null, map: null,
    alerts: new Map(), lastSeq: null, selected: null, fences: new Map(), sockets: {}, received: 0, stopped: false };
  root.landun = state; // for the operator's console and the browser test

  function el(tag, attrs, ...children) {
    const node = doc.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    children.flat(Infinity).forEach((c) => node.append(c instanceof Node ? c : doc.createTextNode(String(c ?? ""))));
    return node;
  }

  async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) { logout(); throw new Error("unauthorised"); }
    if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
    return response.json();
  }

  async function login(event) {
    event.preventDefault();
    const body = JSON.stringify({ username: doc.getElementById("username").value, password: doc.getElementById("password").value });
    const response = await fetch("/api/auth/login", { method: "POST", body, headers: { "Content-Type": "application/json" } });
    if (!response.ok) { doc.getElementById("login-error").textContent = t("login_failed"); return; }
    state.token = (await response.json()).access_token;
    root.sessionStorage.setItem("landun.token", state.token);
    start();
  }

  function logout() {
    state.stopped = true;
    root.sessionStorage.removeItem("landun.token");
    Object.values(state.sockets).forEach((ws) => ws.close());
    root.location.reload();
  }

  async function start() {
    const config = await api("/api/map-config");
    state.user = config.user;
    doc.getElementById("login").hidden = true;
    doc.getElementById("app").hidden = false;
    renderWho();
    doc.getElementById("attribution").textContent = config.tile_attribution || "";
    state.map = new root.LandunMap.LiveMap(doc.getElementById("map"), {
      tileUrl: config.tile_url, tileDatum: config.tile_datum, center: config.center, zoom: config.zoom,
      onViewChange: debounce(sendViewport, 250), onVehicleClick: showVehicle,
    });
    // Replay mode (issue 12, replay.js): a panel over the map; the alert card links to it.
    state.replay = new root.LandunReplay.Replay({ api, map: state.map, mount: doc.querySelector(".centre"), t });
    doc.getElementById("replay-open").addEventListener("click", () => state.replay.show());
    drawLegend();
    connect("live", onLive);
    connect("alerts", onAlert);
    setInterval(tick, 1000);
    loadFences();
  }

  /** Fences now, then each minute (reference data changes rarely); every 5 s while none. */
  async function loadFences() {
    try {
      const areas = await api("/api/fences/areas");
      state.fences = new Map(areas.features.map((f) => [f.id, f]));
      state.map.setFences(areas.features);
    } catch (err) { /* keep the last fences; the next round retries */ }
    root.setTimeout(loadFences, state.fences.size ? 60000 : 5000);
  }

  function renderWho() {
    const u = state.user;
    doc.getElementById("who").textContent = `${u.username} · ${t("role_" + u.role)}${u.district ? " · " + district(u.district) : ""}`;
  }

  function tick() {
    const now = new Date();
    doc.getElementById("clock").textContent = now.toLocaleString(root.LandunI18n.lang === "en" ? "en-GB" : "zh-CN", { hour12: false });
    const up = state.sockets.live?.readyState === 1 && state.sockets.alerts?.readyState === 1;
    const link = doc.getElementById("link");
    link.dataset.state = up ? "up" : "down";
    link.textContent = t(up ? "link_up" : "link_down");
  }

  /** Open /ws/<channel> with a fresh single-use ticket; reconnect with backoff (alerts resume). */
  async function connect(channel, onMessage, delay = 500) {
    if (state.stopped) return;
    let url;
    try {
      const { ticket } = await api("/api/auth/ws-ticket", { method: "POST" });
      const scheme = root.location.protocol === "https:" ? "wss" : "ws";
      const resume = channel === "alerts" && state.lastSeq !== null ? `&after=${state.lastSeq}` : "";
      url = `${scheme}://${root.location.host}/ws/${channel}?ticket=${encodeURIComponent(ticket)}${resume}`;
    } catch (err) {
      root.setTimeout(() => connect(channel, onMessage, Math.min(delay * 2, 15000)), delay);
      return;
    }
    const ws = new WebSocket(url, ["landun.v1"]);
    state.sockets[channel] = ws;
    ws.onmessage = (event) => onMessage(JSON.parse(event.data));
    ws.onopen = () => { delay = 500; if (channel === "live") sendViewport(state.map.bboxWgs(), state.map.zoom); };
    ws.onclose = () => root.setTimeout(() => connect(channel, onMessage, Math.min(delay * 2, 15000)), delay);
  }

  function sendViewport(bbox, zoom) {
    const ws = state.sockets.live;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "viewport", bbox, zoom }));
  }

  function onLive(msg) {
    if (msg.type === "snapshot") state.map.replaceVehicles(msg.items);
    else if (msg.type === "positions") msg.items.forEach((p) => state.map.upsertVehicle(p));
    else if (msg.type === "counts") Object.entries(msg.counts).forEach(([k, v]) => {
      const node = doc.getElementById(`count-${k}`);
      if (node) node.textContent = v.toLocaleString();
    });
    if (msg.items) state.received += msg.items.length;
  }

  function onAlert(msg) {
    if (msg.type === "snapshot" || msg.type === "resync") {
      state.alerts.clear();
      msg.alerts.forEach((a) => state.alerts.set(a.id, a));
    } else {
      (msg.type === "batch" ? msg.events : [msg]).forEach((e) => {
        state.alerts.set(e.alert.id, e.alert);
        state.lastSeq = Math.max(state.lastSeq ?? 0, e.seq);
      });
    }
    if (msg.seq !== undefined) state.lastSeq = Math.max(state.lastSeq ?? 0, msg.seq);
    renderAlerts();
    if (state.selected && state.alerts.has(state.selected)) renderDetail(state.alerts.get(state.selected));
  }

  function renderAlerts() {
    const list = doc.getElementById("alert-list");
    const rows = [...state.alerts.values()].sort((a, b) => (a.ts < b.ts ? 1 : -1)).slice(0, 300);
    list.replaceChildren(...rows.map((a) => el("li",
      { class: `alert-item sev-${a.severity}${a.id === state.selected ? " selected" : ""}`, "data-id": a.id, onclick: () => selectAlert(a.id) },
      el("div", { class: "row" }, el("span", { class: "type" }, t(a.type)), el("span", { class: `badge ${a.case.state}` }, t("case_" + a.case.state))),
      el("div", { class: "row" }, el("span", {}, `${a.vehicle} · ${district(a.district)}`), el("span", {}, a.ts.slice(5, 19).replace("T", " "))),
    )));
    doc.getElementById("count-open").textContent = rows.filter((a) => a.case.state === "open").length;
  }

  async function selectAlert(id) {
    const alert = state.alerts.get(id);
    state.selected = id;
    state.map.selected = alert.vehicle;
    state.map.highlightFence = alert.fence;
    state.map.focus(alert.lat, alert.lng, Math.max(state.map.zoom, 14));
    renderAlerts();
    renderDetail(alert);
    const since = new Date(Date.parse(alert.ts) - 30 * 60 * 1000).toISOString();
    try {
      const track = await api(`/api/vehicles/${encodeURIComponent(alert.vehicle)}/track?since=${encodeURIComponent(since)}`);
      state.map.setTrack(track.coordinates);
    } catch (err) { state.map.setTrack([]); }
  }

  function showVehicle(id) {
    const found = [...state.alerts.values()].find((a) => a.vehicle === id);
    if (found) selectAlert(found.id);
    else { state.map.selected = id; state.map.dirty = true; }
  }

  function renderDetail(alert) {
    const box = doc.getElementById("detail");
    const fence = state.fences.get(alert.fence);
    const facts = [
      ["vehicle", alert.vehicle], ["district", district(alert.district)], ["time", alert.ts + (alert.late ? ` (${t("late")})` : "")],
      ["severity", t("sev_" + alert.severity)], ["fence", fence ? fence.properties.name || alert.fence : alert.fence || "—"],
      ["permit", alert.permit || "—"], ["rule", (alert.evidence && alert.evidence.rule) || "—"],
    ];
    const actions = (NEXT[alert.case.state] || []).filter((s) => ACTORS[s].includes(state.user.role));
    box.replaceChildren(
      el("h3", {}, `${t(alert.type)} · ${alert.id}`),
      el("dl", {}, facts.map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)])),
      el("div", { class: "actions" }, actions.map((s) => el("button", { type: "button", "data-action": s, onclick: () => act(alert.id, s) }, t("act_" + s))),
        el("button", { type: "button", class: "replay-link", "data-replay": alert.id, onclick: () => state.replay.openAlert(alert) }, t("replay_link"))),
      el("b", {}, t("history")),
      el("ol", { class: "history" }, alert.case.history.map((h) => el("li", {}, `${t("case_" + h.state)} · ${h.by} · ${h.at.slice(0, 19).replace("T", " ")}${h.note ? " · " + h.note : ""}`))),
    );
    box.hidden = false;
  }

  async function act(id, target) {
    const note = target === "dismissed" ? root.prompt(t("dismiss_reason")) : "";
    if (target === "dismissed" && !note) return;
    try {
      const updated = await api(`/api/alerts/${encodeURIComponent(id)}/case`, { method: "POST", body: JSON.stringify({ state: target, note }) });
      state.alerts.set(id, updated);
      renderAlerts();
      renderDetail(updated);
    } catch (err) { root.alert(err.message); }
  }

  function drawLegend() {
    const { STATE_COLOURS, FENCE_COLOURS } = root.LandunMap;
    const items = [
      ...Object.entries(STATE_COLOURS).map(([k, c]) => [`state_${k}`, c]),
      ...Object.entries(FENCE_COLOURS).map(([k, c]) => [`fence_${k}`, c]),
    ];
    doc.getElementById("legend").replaceChildren(...items.map(([key, colour]) =>
      el("li", {}, swatch(colour), el("span", { "data-i18n": key }, t(key)))));
  }

  function swatch(colour) {
    const node = el("i", {});
    node.style.background = colour; // CSSOM, not a style attribute: allowed by the page's CSP
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { root.clearTimeout(timer); timer = root.setTimeout(() => fn(...args), ms); };
  }

  doc.getElementById("login-form").addEventListener("submit", login);
  doc.getElementById("logout").addEventListener("click", logout);
  doc.querySelectorAll("[data-lang-toggle]").forEach((b) => b.addEventListener("click", () => {
    root.LandunI18n.toggle();
    if (!state.user) return;
    renderWho();
    tick();
    renderAlerts();
    if (state.selected) renderDetail(state.alerts.get(state.selected));
    state.replay.relabel();
  }));
  root.LandunI18n.apply();
  if (state.token) start().catch(() => logout());
})(window);
