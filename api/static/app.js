/* The supervision-center page (issue 13: the duty officer's console): login, the two websockets,
 * and the console modules (api/static/console/*.js) wired to the live map (map.js, LiveMap).
 * Every server string is put into the page as text (textContent), never as HTML. */
(function (root) {
  "use strict";
  const doc = root.document;
  const { t, district } = root.LandunI18n;
  const { el, debounce } = root.LandunDom;
  const Clock = root.LandunClock;
  const META_REFRESH_MS = 5 * 60000; // the registry changes rarely
  const state = { token: root.sessionStorage.getItem("landun.token"), user: null, map: null, config: null,
    meta: new Map(), fences: new Map(), reasons: [], sockets: {}, received: 0, hasData: false, stopped: false };
  root.landun = state; // for the operator's console and the browser tests
  const $ = (id) => doc.getElementById(id);

  /** Authenticated fetch; a failure throws an Error with the server's ``detail`` and status. */
  async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) { logout(); throw new Error("unauthorised"); }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const err = new Error(typeof body.detail === "string" ? body.detail : response.statusText);
      err.detail = body.detail ?? response.statusText;
      err.status = response.status;
      throw err;
    }
    return response.json();
  }

  async function login(event) {
    event.preventDefault();
    root.LandunSound.unlock(); // a user gesture: the tone may play later
    const body = JSON.stringify({ username: $("username").value, password: $("password").value });
    const response = await fetch("/api/auth/login", { method: "POST", body, headers: { "Content-Type": "application/json" } });
    if (!response.ok) { $("login-error").textContent = t("login_failed"); return; }
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
    state.config = config;
    state.user = config.user;
    // In the demo the data is simulated: its times are labelled 模拟数据时间 (issue 13). A production
    // deployment may draw its own roads as a vector basemap: that does not make it a demo.
    Clock.demo = config.demo === true;
    $("login").hidden = true;
    $("app").hidden = false;
    renderWho();
    $("attribution").textContent = config.basemap?.attribution || config.tile_attribution || "";
    const view = config.view || { center: config.center, zoom: config.zoom };
    state.map = new root.LandunMap.LiveMap($("map"), {
      tileUrl: config.tile_url, tileDatum: config.tile_datum, basemap: config.basemap, api,
      center: view.center, zoom: view.zoom,
      onViewChange: debounce(sendViewport, 250), onVehicleClick: showVehicle,
    });
    buildConsole();
    // Replay mode (issue 12, replay.js): a panel over the map; the cards link to it.
    state.replay = new root.LandunReplay.Replay({ api, map: state.map, mount: doc.querySelector(".centre"), t });
    $("replay-open").addEventListener("click", () => state.replay.show());
    drawLegend();
    connect("live", onLive);
    connect("alerts", onAlert);
    tick();
    setInterval(tick, 1000);
    loadFences();
    loadMeta();
    loadReasons();
  }

  function buildConsole() {
    const label = (id) => state.meta.get(id)?.plate || id;
    const fenceName = (id) => (id && state.fences.get(id)?.properties?.name) || id || "—";
    const user = () => state.user;
    state.counters = new root.LandunCounters.Counters($("counters"), t);
    state.filters = new root.LandunFilters.Filters({ t, mount: $("filters"), user, meta: state.meta,
      alerts: () => [...state.panel.alerts.values()], onChange: applyFilters });
    state.panel = new root.LandunAlerts.AlertPanel({ t, list: $("alert-list"), popup: $("critical-popup"), map: state.map,
      label, fenceName, onSelect: selectAlert, matches: (a) => state.filters.alertMatches(a),
      onCount: (n) => { $("count-open").textContent = n.toLocaleString(); } });
    state.caseCard = new root.LandunCases.CaseCard({ t, api, box: $("detail"), user, label, fenceName,
      reasons: () => state.reasons, onUpdated: caseUpdated, onReplay: (a) => state.replay.openAlert(a), onVehicle: showVehicle });
    state.caseList = new root.LandunCases.CaseList({ t, api, panel: $("cases"), user, label,
      onSelect: (a) => { if (!state.panel.get(a.id)) state.panel.put(a); selectAlert(a.id); } });
    state.card = new root.LandunCard.VehicleCard({ t, api, box: $("card"), map: state.map, fenceName,
      onAlert: selectAlert, onReplay: (id, from, to) => state.replay.open({ vehicles: [id], from, to }) });
    state.search = new root.LandunSearch.Search({ t, api, input: $("search"), results: $("search-results"),
      onChoose: (v) => showVehicle(v.id, v.position) });
    $("cases-open").addEventListener("click", () => state.caseList.toggle());
    $("mute").addEventListener("click", () => { root.LandunSound.setMuted(!root.LandunSound.muted()); renderMute(); });
    renderMute();
    doc.addEventListener("keydown", (e) => { // Escape acknowledges the critical pop-up shown
      const popup = $("critical-popup");
      if (e.key === "Escape" && !popup.hidden) state.panel.dropPopup(popup.dataset.id);
    });
    setInterval(() => state.panel.render(), 30000); // overdue flags follow the clock
  }

  /** A district officer's map draws their district's fences, plus corridors and fences of no
   * district (approved routes cross districts); the city sees every fence (issue 13). */
  function drawnFence(f) {
    const own = state.user && state.user.district;
    const p = f.properties || {};
    return !own || !p.district || p.district === own || p.kind === "corridor";
  }

  /** Fences now, then each minute (reference data changes rarely); every 5 s while none. */
  async function loadFences() {
    try {
      const areas = await api("/api/fences/areas");
      state.fences = new Map(areas.features.map((f) => [f.id, f])); // every name, for the cards
      state.map.setFences(areas.features.filter(drawnFence));
    } catch (err) { /* keep the last fences; the next round retries */ }
    root.setTimeout(loadFences, state.fences.size ? 60000 : 5000);
  }

  /** The registry (plates, companies, kinds) for labels, filters and the map's icons. */
  async function loadMeta() {
    try {
      const list = await api("/api/vehicles?limit=5000");
      state.meta.clear();
      list.forEach((v) => state.meta.set(v.id, v));
      state.map.setVehicleMeta(list);
      state.filters.metaChanged();
      state.panel.render();
    } catch (err) { /* labels fall back to ids until the next round */ }
    root.setTimeout(loadMeta, META_REFRESH_MS);
  }

  async function loadReasons() {
    try {
      state.reasons = await api("/api/cases/reasons");
    } catch (err) {
      state.reasons = root.LandunCases.FALLBACK_REASONS;
    }
  }

  function renderWho() {
    const u = state.user;
    $("who").textContent = `${u.username} · ${t("role_" + u.role)}${u.district ? " · " + district(u.district) : ""}`;
  }

  function renderMute() {
    const muted = root.LandunSound.muted();
    const button = $("mute");
    button.textContent = t(muted ? "sound_off" : "sound_on");
    button.dataset.muted = muted ? "1" : "0";
  }

  /** The header clock and the link badge: 模拟中…/等待数据 until data exists, never a green
   * live badge over an empty map. */
  function tick() {
    $("clock").textContent = Clock.header(Date.now());
    $("alerts-clock").textContent = t(Clock.demo ? "clock_sim" : "clock_bj"); // the list's times
    const up = state.sockets.live?.readyState === 1 && state.sockets.alerts?.readyState === 1;
    const link = $("link");
    const mode = !up ? "down" : state.hasData ? "up" : "waiting";
    link.dataset.state = mode;
    link.textContent = t(mode === "up" ? "link_up" : mode === "down" ? "link_down" : Clock.demo ? "link_sim" : "link_wait");
  }

  /** Open /ws/<channel> with a fresh single-use ticket; reconnect with backoff (alerts resume). */
  async function connect(channel, onMessage, delay = 500) {
    if (state.stopped) return;
    let url;
    try {
      const { ticket } = await api("/api/auth/ws-ticket", { method: "POST" });
      const scheme = root.location.protocol === "https:" ? "wss" : "ws";
      const resume = channel === "alerts" && state.lastSeq !== undefined ? `&after=${state.lastSeq}` : "";
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
    else if (msg.type === "counts") {
      state.counters.update(msg.counts);
      if (msg.counts.total > 0) state.hasData = true;
    }
    if (msg.items) {
      state.received += msg.items.length;
      msg.items.forEach((p) => { Clock.observe(p.ts); state.card.position(p); });
      if (msg.items.length) state.hasData = true;
    }
  }

  function onAlert(msg) {
    if (msg.type === "snapshot" || msg.type === "resync") {
      state.panel.reset(msg.alerts, msg.type === "resync");
    } else {
      const events = msg.type === "batch" ? msg.events : [msg];
      events.forEach((e) => { state.lastSeq = Math.max(state.lastSeq ?? 0, e.seq); });
      state.panel.arrive(events.map((e) => e.alert));
      const shown = state.caseCard.alert?.id;
      const mine = events.find((e) => e.alert.id === shown);
      if (mine) state.caseCard.show(mine.alert);
      if (events.some((e) => e.alert.vehicle === state.card.id)) refreshCard();
      state.caseList.refreshSoon();
    }
    if (msg.seq !== undefined) state.lastSeq = Math.max(state.lastSeq ?? 0, msg.seq);
    if (state.filters.values.type) applyFilters(); // the vehicles with that alert type changed
  }

  const refreshCard = debounce(() => { if (state.card.id) state.card.open(state.card.id); }, 1000);

  function applyFilters() {
    state.map.setFilter(state.filters.vehiclePredicate());
    state.panel.render();
  }

  async function selectAlert(id) {
    let alert = state.panel.get(id);
    if (!alert) {
      try { alert = await api(`/api/alerts/${encodeURIComponent(id)}`); } catch (err) { return; }
      state.panel.put(alert);
    }
    state.panel.selected = id;
    state.map.selected = alert.vehicle; // highlighted; the map centres on the alert's place
    state.map.highlightFence = alert.fence;
    if (typeof alert.lat === "number") state.map.focus(alert.lat, alert.lng, Math.max(state.map.zoom, 14));
    state.panel.render();
    state.caseCard.show(alert);
    const since = Date.parse(alert.ts) - 30 * 60 * 1000;
    try {
      const track = await api(`/api/vehicles/${encodeURIComponent(alert.vehicle)}/track?since=${since}`);
      state.map.setTrack(track.coordinates);
    } catch (err) { state.map.setTrack([]); }
  }

  /** A vehicle clicked on the map or chosen in the search: select it and open its card. A
   * search result's position centres the map first (the map may not hold a vehicle outside
   * the view it was sent). */
  function showVehicle(id, position) {
    if (position) state.map.focus(position.lat, position.lng, Math.max(state.map.zoom, 15));
    state.map.select(id);
    state.card.open(id);
  }

  function caseUpdated(alert) {
    state.panel.put(alert);
    state.caseCard.show(alert);
    state.caseList.refreshSoon();
    if (alert.vehicle === state.card.id) refreshCard();
  }

  function drawLegend() {
    const { STATE_COLOURS = {}, FENCE_COLOURS = {} } = root.LandunMap;
    const items = [
      ...Object.entries(STATE_COLOURS).map(([k, c]) => [`state_${k}`, c]),
      ...Object.entries(root.LandunAlerts.SEVERITY_COLOURS).map(([k, c]) => [`sev_${k}`, c]),
      ...Object.entries(FENCE_COLOURS).map(([k, c]) => [`fence_${k}`, c]),
    ];
    $("legend").replaceChildren(...items.map(([key, colour]) =>
      el("li", {}, swatch(colour), el("span", { "data-i18n": key }, t(key)))));
  }

  function swatch(colour) {
    const node = el("i", {});
    node.style.background = colour; // CSSOM, not a style attribute: allowed by the page's CSP
    return node;
  }

  function relabel() {
    root.LandunI18n.toggle();
    $("search").placeholder = t("search_placeholder");
    if (!state.user) return;
    renderWho();
    renderMute();
    tick();
    state.counters.render();
    state.filters.render();
    state.search.render($("search").value.trim());
    state.panel.relabel();
    state.caseCard.render();
    state.card.render();
    state.caseList.build();
    state.caseList.render();
    state.replay.relabel();
  }

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  doc.querySelectorAll("[data-lang-toggle]").forEach((b) => b.addEventListener("click", relabel));
  root.LandunI18n.apply();
  $("search").placeholder = t("search_placeholder");
  if (state.token) start().catch(() => logout());
})(window);
