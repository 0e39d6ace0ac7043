/* The vehicle card (issue 13, contract 2): opened by a click on any vehicle or a search result.
 * Plate, company, kind, speed, state, current trip and permit, terminal phone, last fix time,
 * the recent track on the map, links to its alerts and to its replay (the last hour). */
(function (root) {
  "use strict";
  const { el } = root.LandunDom;
  const C = () => root.LandunClock;
  const TRACK_MS = 3600 * 1000; // the recent track and the replay link: the last hour of data

  class VehicleCard {
    /** ``ctx``: {t, api, box, map, fenceName(id), onAlert(alertId), onReplay(vehicle, from, to)}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.card = null;
      this.gen = 0;
      this.drawn = 0;
    }

    get id() {
      return this.card?.id ?? null;
    }

    async open(id) {
      const gen = ++this.gen;
      let card;
      try {
        card = await this.ctx.api(`/api/vehicles/${encodeURIComponent(id)}`);
      } catch (err) {
        if (gen !== this.gen) return;
        this.card = null;
        this.ctx.box.replaceChildren(el("p", { class: "error" }, `${id}: ${err.message}`));
        this.ctx.box.hidden = false;
        return;
      }
      if (gen !== this.gen) return;
      this.card = card;
      this.render();
      await this.track(gen);
    }

    async track(gen) {
      const last = C().toMs(this.card.position?.ts);
      const since = last === null ? "" : `?since=${last - TRACK_MS}`;
      try {
        const track = await this.ctx.api(`/api/vehicles/${encodeURIComponent(this.card.id)}/track${since}`);
        if (gen === this.gen) this.ctx.map.setTrack(track.coordinates);
      } catch (err) {
        if (gen === this.gen) this.ctx.map.setTrack([]);
      }
    }

    close() {
      this.gen += 1;
      this.card = null;
      this.ctx.box.hidden = true;
      this.ctx.map.setTrack([]);
    }

    /** A live position of the open vehicle: refresh speed, state and last fix (at most 1/s). */
    position(p) {
      if (!this.card || p.vehicle !== this.card.id) return;
      const known = C().toMs(this.card.position?.ts);
      if (known !== null && C().toMs(p.ts) < known) return;
      this.card.position = p;
      const now = Date.now();
      if (now - this.drawn > 1000) this.render();
    }

    render() {
      const { t, box } = this.ctx;
      const v = this.card;
      if (!v) return;
      this.drawn = Date.now();
      const p = v.position;
      const state = p?.state || "offline";
      const facts = [
        ["plate", v.plate || "—"], ["vehicle_id", v.id], ["company", v.company || "—"],
        ["kind", t(`kind_${v.kind}`)], ["district", root.LandunI18n.district(v.district)],
        ["speed", typeof p?.speed_kmh === "number" ? `${Math.round(p.speed_kmh * 10) / 10} km/h` : "—"],
        ["state", t(`state_${state}`)], ["terminal_phone", v.terminal_phone || "—"],
        ["last_fix", p ? C().formatData(p.ts) : t("no_fix")],
        ["trip", this.tripText(v.trip)], ["permit", this.permitText(v.permit, v.trip)],
      ];
      const alerts = v.alerts || [];
      box.replaceChildren(
        el("div", { class: "card-head" }, el("span", { class: `kind-icon kind-${v.kind}` }, t(`kind_${v.kind}`)),
          el("h3", { class: "plate" }, v.plate || v.id), el("span", { class: `state-badge state-${state}` }, t(`state_${state}`)),
          el("button", { type: "button", class: "close", "aria-label": t("close"), onclick: () => this.close() }, "×")),
        el("dl", {}, facts.map(([k, value]) => [el("dt", {}, t(k)), el("dd", { "data-fact": k }, value)])),
        el("div", { class: "actions" },
          el("button", { type: "button", class: "card-replay", onclick: () => this.replay() }, t("replay_hour")),
          el("button", { type: "button", class: "card-focus", disabled: !p, onclick: () => p && this.ctx.map.focus(p.lat, p.lng, Math.max(this.ctx.map.zoom, 15)) }, t("locate"))),
        el("b", {}, `${t("vehicle_alerts")} (${alerts.length})`),
        el("ol", { class: "card-alerts" }, alerts.length ? alerts.map((a) => el("li", {
          class: `card-alert sev-${a.severity}`, "data-alert": a.id, onclick: () => this.ctx.onAlert(a.id),
        }, root.LandunAlerts.badge(a.severity, t), ` ${t(a.type)} · ${C().short(a.ts)} · `,
        el("span", { class: `badge ${a.case_state}` }, t(`case_${a.case_state}`)))) : el("li", { class: "dim" }, t("no_alerts"))),
      );
      box.dataset.id = v.id;
      box.hidden = false;
    }

    tripText(trip) {
      const t = this.ctx.t;
      if (!trip) return t("no_trip");
      const parts = [trip.id, t(`trip_${trip.state}`)];
      if (trip.source) parts.push(`${t("source")} ${this.ctx.fenceName(trip.source)}`);
      if (trip.loaded !== undefined && trip.loaded !== null) parts.push(t(trip.loaded ? "loaded_yes" : "loaded_no"));
      if (trip.started) parts.push(`${t("started")} ${C().short(trip.started)}`);
      return parts.join(" · ");
    }

    permitText(permit, trip) {
      const t = this.ctx.t;
      if (!permit) return trip?.permit || t("no_permit");
      const until = permit.valid_to ? ` · ${t("valid_to")} ${C().plain(permit.valid_to).slice(0, 10)}` : "";
      const terminals = (permit.terminals || []).map(this.ctx.fenceName).join("、");
      return `${permit.id}${until}${terminals ? ` · ${t("terminals")} ${terminals}` : ""}`;
    }

    /** Replay the last hour of this vehicle's data (replay.js opens paused at its start). */
    replay() {
      const last = C().toMs(this.card.position?.ts) ?? C().dataMs ?? Date.now();
      this.ctx.onReplay(this.card.id, last - TRACK_MS, last);
    }
  }

  root.LandunCard = { VehicleCard };
})(window);
