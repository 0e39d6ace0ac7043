/* The map's replay mode (issue 12): several vehicles on one clock over a chosen range, played,
 * paused and sought on a time slider at 1x to 1000x. Tracks come from GET /api/replay/track in
 * chunks of data time fetched ahead of the playhead (never the whole night at once); fences as
 * they were from GET /api/replay/fences?at=T. It draws through the live map's projection via
 * LiveMap.setReplayLayer (map.js) and replay_draw.js, so the live map's drawing code is not
 * duplicated here.
 * Every server string goes into the page as text, never as HTML. */
(function (root) {
  "use strict";
  const L = root.LandunReplayLogic;
  const doc = root.document;
  const { COLOURS } = root.LandunReplayDraw;
  const PARALLEL = 6; // requests in flight: a browser's connections per host
  const PAGE_LIMIT = 5000; // fixes per track page (an hour at 1 s; the API allows 10,000)
  // Data time per fetch: 14.4 s of playback at 1000x. bench/replay_map.py, 100 trucks x 10 h at
  // 1000x on a busy 2-core box: 30 and 60 min chunks stalled (one request per vehicle per chunk
  // was more requests than the API served in time); 2 h kept ahead, by as little as 1.1 s under
  // load; 4 h by at least 9.7 s in every run, its first frame as soon (docs/architecture.md).
  const CHUNK_MS = 240 * 60000;
  const AHEAD_WALL_MS = 15000; // keep this much playback fetched ahead, at any speed
  const MAX_VEHICLES = 200;
  const SAMPLES = 20000; // frame-time samples kept for the benchmark

  class Replay {
    /** ``api(path)``: app.js's authenticated fetch; ``map``: the LiveMap; ``mount``: where the
     * panel goes (the map's container). */
    constructor({ api, map, mount, t }) {
      this.api = api;
      this.map = map;
      this.t = t;
      this.gen = 0;
      this.session = null;
      this.chunkMs = CHUNK_MS; // the benchmark and the browser test set these two
      this.pageLimit = PAGE_LIMIT;
      this.painter = new root.LandunReplayDraw.Painter(t);
      this.layer = { draw: (m, ctx) => this.session && this.painter.draw(m, ctx, this.session) };
      this.build(mount);
    }

    // ---- the panel -------------------------------------------------------------------------

    build(mount) {
      const el = (tag, attrs = {}, ...kids) => {
        const node = doc.createElement(tag);
        Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
        kids.forEach((k) => node.append(k));
        return node;
      };
      const label = (key, input) => el("label", {}, el("span", { "data-i18n": key }, this.t(key)), input);
      const speed = el("select", { id: "replay-speed" });
      L.SPEEDS.forEach((s) => speed.append(el("option", { value: String(s) }, `${s}×`)));
      const legend = el("span", { class: "replay-legend" });
      Object.entries(COLOURS).forEach(([state, colour]) => {
        const swatch = el("i");
        swatch.style.background = colour; // CSSOM, allowed by the page's CSP
        legend.append(swatch, el("span", { "data-i18n": `replay_${state}` }, this.t(`replay_${state}`)));
      });
      this.panel = el("div", { id: "replay", class: "replay", hidden: "" },
        el("ol", { id: "replay-alerts", class: "replay-alerts" }),
        el("div", { class: "replay-row" },
          el("b", { "data-i18n": "replay" }, this.t("replay")),
          label("replay_vehicles", el("input", { id: "replay-vehicles", list: "replay-known", size: "24" })),
          label("replay_from", el("input", { id: "replay-from", type: "datetime-local", step: "1" })),
          label("replay_to", el("input", { id: "replay-to", type: "datetime-local", step: "1" })),
          el("button", { type: "button", id: "replay-load", "data-i18n": "replay_load" }, this.t("replay_load")),
          el("button", { type: "button", id: "replay-close", "data-i18n": "replay_close" }, this.t("replay_close")),
          el("datalist", { id: "replay-known" })),
        el("div", { class: "replay-row" },
          el("button", { type: "button", id: "replay-play" }, this.t("replay_play")),
          speed,
          el("input", { id: "replay-slider", type: "range", min: "0", max: "0", step: "1", value: "0" }),
          el("span", { class: "replay-time" }, el("span", { "data-i18n": "replay_bj" }, this.t("replay_bj")), " ",
            el("b", { id: "replay-time" }, "—")),
          legend,
          el("span", { id: "replay-status", class: "replay-status" })));
      mount.append(this.panel);
      const $ = (id) => doc.getElementById(id);
      this.dom = { vehicles: $("replay-vehicles"), from: $("replay-from"), to: $("replay-to"),
        play: $("replay-play"), speed: $("replay-speed"), slider: $("replay-slider"), time: $("replay-time"),
        status: $("replay-status"), alerts: $("replay-alerts"), known: $("replay-known") };
      $("replay-load").addEventListener("click", () => this.openFromForm());
      $("replay-close").addEventListener("click", () => this.close());
      this.dom.play.addEventListener("click", () => this.toggle());
      this.dom.speed.addEventListener("change", () => this.setSpeed(Number(this.dom.speed.value)));
      const slider = this.dom.slider;
      slider.addEventListener("pointerdown", () => { this.dragging = true; });
      slider.addEventListener("pointerup", () => { this.dragging = false; });
      slider.addEventListener("input", () => {
        if (this.session) this.seek(this.session.plan.from + Number(slider.value) * 1000);
      });
    }

    /** Show the panel with a form: the selected vehicle (if any) over the last hour. */
    show() {
      this.panel.hidden = false;
      this.dom.known.replaceChildren(...[...this.map.vehicles.keys()].sort().slice(0, 2000).map((v) => {
        const option = doc.createElement("option");
        option.value = v;
        return option;
      }));
      if (!this.session) {
        const to = Math.floor(Date.now() / 60000) * 60000;
        this.fillForm(this.map.selected ? [this.map.selected] : [], to - 3600000, to);
      }
    }

    fillForm(vehicles, from, to) {
      this.dom.vehicles.value = vehicles.join(", ");
      this.dom.from.value = L.beijingInput(from);
      this.dom.to.value = L.beijingInput(to);
    }

    openFromForm() {
      const vehicles = this.dom.vehicles.value.split(/[\s,，;；]+/).filter(Boolean);
      let from;
      let to;
      try {
        from = L.parseBeijing(this.dom.from.value);
        to = L.parseBeijing(this.dom.to.value);
      } catch (err) {
        this.status(this.t("replay_bad"));
        return;
      }
      if (!vehicles.length || vehicles.length > MAX_VEHICLES || !(to > from)) {
        this.status(this.t("replay_bad"));
        return;
      }
      this.open({ vehicles, from, to });
    }

    /** Replay a live alert: its vehicle over its evidence window (replay.window.alert_window). */
    openAlert(alert) {
      const [from, to] = L.alertWindow(alert);
      this.open({ vehicles: [alert.vehicle], from, to });
    }

    status(text) {
      this.dom.status.textContent = text;
    }

    relabel() {
      if (!this.session) return;
      this.session.firedShown = -1; // re-render the alert list in the new language
      this.session.changed = true;
      this.dom.play.textContent = this.t(this.session.clock.playing ? "replay_pause" : "replay_play");
    }

    // ---- the session -----------------------------------------------------------------------

    /** Start replaying ``vehicles`` over [from, to] (epoch ms), paused at ``from``. */
    open({ vehicles, from, to, chunkMs }) {
      this.gen += 1;
      const plan = L.chunkPlan(from, to, chunkMs || this.chunkMs);
      const clock = new L.Clock(from, to);
      clock.speed = Number(this.dom.speed.value) || 1;
      const unique = [...new Set(vehicles)];
      this.session = {
        gen: this.gen, vehicles: unique, plan, clock, playhead: from,
        tracks: new Map(unique.map((v) => [v, { chunks: new Map(), overlays: new Map(), track: null }])),
        loaded: new Set(), pending: new Map(), queue: [], queuedFor: null, inflight: 0, failed: new Map(),
        alerts: [], alertTs: [], stops: [], stopTs: [], firedShown: -1,
        fences: [], fenceKey: null, fenceBusy: false, box: null, view: null, trailVersion: 0,
        changed: true, stalledSince: null,
        stats: { opened: root.performance.now(), firstData: null, requests: 0, points: 0, stalls: 0,
          stallMs: 0, draws: [], frames: [], ahead: [], lastFrame: null },
      };
      this.fillForm(this.session.vehicles, from, to);
      this.dom.slider.max = String(Math.round((to - from) / 1000));
      this.dom.slider.value = "0";
      this.dom.play.textContent = this.t("replay_play");
      this.panel.hidden = false;
      this.map.setReplayLayer(this.layer);
      const gen = this.gen;
      const loop = (now) => {
        if (!this.session || this.session.gen !== gen) return;
        this.tick(now);
        root.requestAnimationFrame(loop);
      };
      root.requestAnimationFrame(loop);
    }

    close() {
      this.gen += 1;
      this.session = null;
      this.panel.hidden = true;
      this.dom.alerts.replaceChildren();
      this.map.setReplayLayer(null);
    }

    play() {
      const s = this.session;
      if (!s) return;
      s.clock.play(root.performance.now());
      s.stats.lastFrame = null;
      this.dom.play.textContent = this.t("replay_pause");
    }

    pause() {
      const s = this.session;
      if (!s) return;
      s.clock.pause(root.performance.now());
      this.dom.play.textContent = this.t("replay_play");
    }

    toggle() {
      if (this.session && this.session.clock.playing) this.pause();
      else this.play();
    }

    seek(t) {
      const s = this.session;
      if (!s) return;
      s.clock.seek(t, root.performance.now());
      s.playhead = s.clock.at(root.performance.now());
      s.changed = true; // the queued fetches are re-ordered for the new place by fetchAhead
    }

    setSpeed(speed) {
      const s = this.session;
      if (!s) return;
      s.clock.setSpeed(speed, root.performance.now());
      this.dom.speed.value = String(speed);
    }

    /** One animation frame: advance the playhead (held where the data ends while chunks are
     * still coming), fetch ahead, redraw when anything moved. */
    tick(now) {
      const s = this.session;
      const { clock, plan, stats } = s;
      let t = clock.at(now);
      const until = L.bufferedUntil(plan, s.loaded, s.playhead);
      const stalled = clock.playing && t > until;
      if (stalled) {
        if (s.stalledSince === null) {
          s.stalledSince = now;
          stats.stalls += 1;
        }
        clock.seek(until, now);
        t = until;
      } else if (s.stalledSince !== null) {
        stats.stallMs += now - s.stalledSince;
        s.stalledSince = null;
      }
      if (clock.playing) {
        // the lead of the fetched data over the playhead, while there is more to fetch
        if (until < plan.to && stats.ahead.length < SAMPLES) stats.ahead.push((until - t) / clock.speed);
        if (stats.lastFrame !== null && stats.frames.length < SAMPLES) stats.frames.push(now - stats.lastFrame);
        stats.lastFrame = now;
      }
      if (clock.playing && t >= plan.to) this.pause();
      const moved = t !== s.playhead;
      s.playhead = t;
      this.fetchAhead();
      this.fetchFences();
      if (moved || s.changed) {
        s.changed = false;
        const started = root.performance.now();
        this.renderControls();
        this.map.draw();
        // a frame's own cost: controls, background and the replay layer (bench/replay_map.py)
        if (clock.playing && stats.draws.length < SAMPLES) stats.draws.push(root.performance.now() - started);
      }
    }

    renderControls() {
      const s = this.session;
      const t = s.playhead;
      this.dom.time.textContent = L.beijing(t);
      if (!this.dragging) this.dom.slider.value = String(Math.round((t - s.plan.from) / 1000));
      const fired = L.firedCount(s.alertTs, t);
      if (fired !== s.firedShown) {
        s.firedShown = fired;
        this.renderAlerts(s.alerts.slice(0, fired).reverse());
      }
      const failed = [...s.failed].map(([v, msg]) => `${v}: ${msg}`);
      const state = s.stalledSince !== null ? this.t("replay_buffering")
        : `${this.t("replay_chunks")} ${s.loaded.size}/${s.plan.count}`;
      this.status([state, ...failed].join(" · "));
    }

    renderAlerts(alerts) {
      const { t } = this;
      const district = root.LandunI18n.district;
      this.dom.alerts.replaceChildren(...alerts.slice(0, 100).map((a) => {
        const li = doc.createElement("li");
        li.className = `replay-alert sev-${a.severity}`;
        li.dataset.id = a.id;
        li.textContent = `${L.beijing(a.t).slice(11)} ${t(a.type)} · ${a.vehicle}${a.district ? " · " + district(a.district) : ""}`;
        li.addEventListener("click", () => this.seek(a.t));
        return li;
      }));
    }

    // ---- fetching --------------------------------------------------------------------------

    fetchAhead() {
      const s = this.session;
      const ahead = Math.max(s.plan.chunkMs, s.clock.speed * AHEAD_WALL_MS);
      const pendingKeys = new Set(s.pending.keys());
      const wanted = L.wantedChunks(s.plan, s.loaded, pendingKeys, s.playhead, ahead);
      for (const k of wanted) {
        s.pending.set(k, new Set(s.vehicles));
        s.vehicles.forEach((vehicle) => s.queue.push({ k, vehicle }));
      }
      const first = L.chunkOf(s.plan, s.playhead);
      if (wanted.length || first !== s.queuedFor) {
        s.queuedFor = first;
        s.queue.sort((a, b) => L.urgency(a.k, first) - L.urgency(b.k, first));
      }
      while (s.inflight < PARALLEL && s.queue.length) {
        const job = s.queue.shift();
        s.inflight += 1;
        this.fetchChunk(s, job).finally(() => { s.inflight -= 1; });
      }
    }

    /** One vehicle's chunk, page by page (a page holds at most PAGE_LIMIT fixes). */
    async fetchChunk(s, { k, vehicle }) {
      const [from, to] = L.chunkSpan(s.plan, k);
      const points = { t: [], lat: [], lng: [], state: [] };
      const overlays = { alerts: [], stops: [] };
      let cursor = null;
      try {
        do {
          const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
          const page = await this.api(
            `/api/replay/track/${encodeURIComponent(vehicle)}?from=${from}&to=${to}&limit=${this.pageLimit}${more}`);
          if (s.gen !== this.gen) return;
          s.stats.requests += 1;
          this.absorb(page, vehicle, points, overlays);
          cursor = page.next;
        } while (cursor);
      } catch (err) {
        if (s.gen !== this.gen) return;
        // a 404 says only that this caller sees no such vehicle (the API never says more)
        s.failed.set(vehicle, /not found/i.test(err.message) ? this.t("replay_none") : err.message);
      }
      const v = s.tracks.get(vehicle);
      v.chunks.set(k, points);
      v.overlays.set(k, overlays);
      v.track = L.mergeTrack(v.chunks, (lat, lng) => this.map.toDisplay(lat, lng));
      // the trail bitmap holds what is behind the playhead: redraw it if this chunk reaches there
      if (L.chunkSpan(s.plan, k)[0] <= s.playhead) s.trailVersion += 1;
      s.stats.points += points.t.length;
      this.collectOverlays(s);
      const waiting = s.pending.get(k);
      if (waiting) {
        waiting.delete(vehicle);
        if (!waiting.size) {
          s.pending.delete(k);
          s.loaded.add(k);
          if (s.stats.firstData === null) s.stats.firstData = root.performance.now() - s.stats.opened;
        }
      }
      this.extend(s, points);
      if (this.untouched(s)) this.fit(s);
      s.changed = true;
    }

    absorb(page, vehicle, points, overlays) {
      for (const f of page.features || []) {
        const p = f.properties || {};
        if (p.kind === "track") {
          const got = L.pagePoints(f);
          ["t", "lat", "lng", "state"].forEach((key) => { for (const x of got[key]) points[key].push(x); });
        } else if (p.kind === "alert" || p.kind === "stop") {
          const [lng, lat] = f.geometry.coordinates;
          const item = { ...p, vehicle, lat, lng, t: L.parseIso(p.ts) };
          if (p.kind === "stop") {
            item.ts = item.t;
            item.ended_ts = p.ended_ts === null || p.ended_ts === undefined ? null : L.parseIso(p.ended_ts);
          }
          overlays[p.kind === "alert" ? "alerts" : "stops"].push(item);
        }
      }
    }

    /** The alerts and stops of every vehicle's loaded chunks, each once, in time order. */
    collectOverlays(s) {
      const alerts = new Map();
      const stops = [];
      s.tracks.forEach((v) => v.overlays.forEach((o) => {
        o.alerts.forEach((a) => alerts.set(a.id, a));
        stops.push(...o.stops);
      }));
      s.alerts = [...alerts.values()].sort((a, b) => a.t - b.t || (a.id < b.id ? -1 : 1));
      s.alertTs = s.alerts.map((a) => a.t);
      s.stops = stops.sort((a, b) => a.t - b.t);
      s.stopTs = s.stops.map((x) => x.t);
      s.firedShown = -1;
    }

    /** The fences as they were at the playhead, read again each second of playback (at least
     * each minute of data time): a fence changed in between shows up that much later. */
    fetchFences() {
      const s = this.session;
      const step = Math.max(60000, s.clock.speed * 1000);
      const key = Math.floor(s.playhead / step) * step;
      if (s.fenceBusy || key === s.fenceKey) return;
      s.fenceBusy = true;
      this.api(`/api/replay/fences?at=${Math.max(key, s.plan.from)}`)
        .then((fc) => {
          if (s.gen !== this.gen) return;
          s.fences = this.map.fenceShapes(fc.features || []);
        })
        .catch(() => { s.fences = []; }) // never today's fences in place of the night's
        .finally(() => {
          s.fenceKey = key;
          s.fenceBusy = false;
          s.changed = true;
        });
    }

    /** Grow the box (world pixels at zoom 0) around everything loaded by a chunk's points. */
    extend(s, points) {
      const { worldPixel } = root.LandunMap;
      for (let i = 0; i < points.t.length; i++) {
        const [x, y] = worldPixel(points.lat[i], points.lng[i], 0);
        const b = s.box;
        s.box = b ? [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)] : [x, y, x, y];
      }
    }

    /** True until the user pans or zooms (the view is still the one the replay chose) while
     * some data loaded lies outside the view: refitting moves the view, and a moved view
     * redraws every trail, so it happens only when needed. */
    untouched(s) {
      const m = this.map;
      if (s.view && (s.view[0] !== m.center[0] || s.view[1] !== m.center[1] || s.view[2] !== m.zoom)) return false;
      if (!s.view || !s.box) return true;
      const scale = Math.pow(2, m.zoom);
      const [cx, cy] = root.LandunMap.worldPixel(m.center[0], m.center[1], 0);
      const [hw, hh] = [m.width / 2 / scale, m.height / 2 / scale];
      const b = s.box;
      return b[0] < cx - hw || b[2] > cx + hw || b[1] < cy - hh || b[3] > cy + hh;
    }

    /** Centre and zoom the map on all the data loaded (again as chunks come, until the user
     * moves the map). */
    fit(s) {
      const box = s.box;
      if (!box) return;
      const span = Math.max(box[2] - box[0], (box[3] - box[1]) * (this.map.width / this.map.height), 1e-9);
      const zoom = Math.max(3, Math.min(17, Math.floor(Math.log2((this.map.width * 0.7) / span))));
      const [lat, lng] = root.LandunMap.worldToLatLng((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 0);
      this.map.focus(lat, lng, zoom);
      s.view = [this.map.center[0], this.map.center[1], this.map.zoom];
    }

    // ---- what the page shows (for people, the browser test and bench/replay_map.py) --------

    /** Each vehicle's position at the playhead: {vehicle, lat, lng (WGS-84), state, held}. */
    markers() {
      return this.session ? root.LandunReplayDraw.markersAt(this.session) : [];
    }
  }

  root.LandunReplay = { Replay, COLOURS };
})(window);
