/* Live alerts (issue 13): the list (filtered), severity badges and colours (contract 9), the
 * map's alert rings, and the pop-up plus tone for a critical alert as it arrives. */
(function (root) {
  "use strict";
  const { el } = root.LandunDom;
  const SEVERITY_COLOURS = { critical: "#dc2626", high: "#f97316", medium: "#eab308" };
  const ACTIVE = new Set(["open", "dispatched"]); // cases still being worked: ringed on the map
  const MAX_ROWS = 300;
  const MAX_KEPT = 3000; // alerts kept in the page over a long shift: the newest (by ts)

  /** A severity badge: 紧急 / 严重 / 一般 in its colour. */
  function badge(severity, t) {
    return el("span", { class: `sev-badge sev-${severity}`, "data-severity": severity }, t(`sev_${severity}`));
  }

  /** Dispatched, not handled, and its deadline passed (by this browser's clock). */
  function overdue(alert, nowMs) {
    const c = alert.case || {};
    return c.state === "dispatched" && typeof c.deadline === "number" && c.deadline < nowMs;
  }

  class AlertPanel {
    /** ``ctx``: {t, list (ol), popup (div), map, label(vehicleId), onSelect(alertId),
     * matches(alert) → bool}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.alerts = new Map();
      this.selected = null;
      this.popupQueue = [];
      this.ctx.popup.hidden = true;
    }

    /** A snapshot (the first load: no pop-ups) or a resync after a gap too long to replay
     * (``announce``: a critical open alert this page had not seen arrived meanwhile). */
    reset(alerts, announce = false) {
      const known = new Set(this.alerts.keys());
      this.alerts.clear();
      alerts.forEach((a) => this.alerts.set(a.id, a));
      if (announce) alerts.filter((a) => !known.has(a.id) && this.alarming(a)).forEach((a) => this.popup(a));
      this.render();
    }

    /** Alerts arriving live (new or updated); a critical open one never seen before pops up. */
    arrive(alerts) {
      alerts.forEach((a) => {
        const fresh = !this.alerts.has(a.id);
        this.alerts.set(a.id, a);
        if (fresh && this.alarming(a)) this.popup(a);
      });
      this.prune();
      this.render();
    }

    /** Forget the oldest alerts beyond MAX_KEPT (the server keeps them all: the case list and
     * a vehicle's card read them from there). */
    prune() {
      if (this.alerts.size <= MAX_KEPT) return;
      const oldest = [...this.alerts.values()].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      oldest.slice(0, this.alerts.size - MAX_KEPT).forEach((a) => { if (a.id !== this.selected) this.alerts.delete(a.id); });
    }

    alarming(a) {
      return a.severity === "critical" && (a.case?.state ?? "open") === "open";
    }

    put(alert) {
      this.alerts.set(alert.id, alert);
      this.render();
    }

    get(id) {
      return this.alerts.get(id);
    }

    render() {
      const { t, list, label, matches } = this.ctx;
      const now = Date.now();
      const rows = [...this.alerts.values()].filter(matches)
        .sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0)).slice(0, MAX_ROWS);
      list.replaceChildren(...rows.map((a) => el("li", {
        class: `alert-item sev-${a.severity}${a.id === this.selected ? " selected" : ""}${overdue(a, now) ? " overdue" : ""}`,
        "data-id": a.id, "data-severity": a.severity, onclick: () => this.ctx.onSelect(a.id),
      },
      el("div", { class: "row" }, badge(a.severity, t), el("span", { class: "type" }, t(a.type)),
        el("span", { class: `badge ${a.case.state}` }, t("case_" + a.case.state))),
      el("div", { class: "row" }, el("span", {}, `${label(a.vehicle)} · ${root.LandunI18n.district(a.district)}`),
        el("span", { class: "when" }, root.LandunClock.short(a.ts))),
      overdue(a, now) && el("div", { class: "row overdue-note" }, t("overdue")))));
      this.ctx.map.setAlertMarkers(rows.filter((a) => ACTIVE.has(a.case.state) && typeof a.lat === "number")
        .map((a) => ({ id: a.id, lat: a.lat, lng: a.lng, severity: a.severity })));
      this.ctx.onCount?.([...this.alerts.values()].filter((a) => a.case.state === "open").length);
    }

    // ---- the critical pop-up ---------------------------------------------------------------

    popup(alert) {
      this.popupQueue = [alert, ...this.popupQueue.filter((a) => a.id !== alert.id)].slice(0, 20);
      this.showPopup();
      root.LandunSound.alarm();
    }

    showPopup() {
      const { t, popup, label } = this.ctx;
      const alert = this.popupQueue[0];
      if (!alert) { popup.hidden = true; return; }
      const lines = root.LandunEvidence.lines(alert, t, this.ctx.fenceName);
      popup.replaceChildren(
        el("div", { class: "popup-head" }, badge("critical", t), el("b", {}, t("popup_title")),
          this.popupQueue.length > 1 && el("span", { class: "popup-more" }, `+${this.popupQueue.length - 1}`)),
        el("div", { class: "popup-type" }, t(alert.type)),
        el("div", {}, `${label(alert.vehicle)} · ${root.LandunI18n.district(alert.district)}`),
        el("div", { class: "popup-time" }, root.LandunClock.formatData(alert.ts)),
        el("ul", { class: "evidence" }, lines.map((line) => el("li", {}, line))),
        el("div", { class: "actions" },
          el("button", { type: "button", class: "popup-view", onclick: () => { this.dropPopup(alert.id); this.ctx.onSelect(alert.id); } }, t("popup_view")),
          el("button", { type: "button", class: "popup-close", onclick: () => this.dropPopup(alert.id) }, t("popup_close"))));
      popup.dataset.id = alert.id;
      popup.hidden = false;
    }

    dropPopup(id) {
      this.popupQueue = this.popupQueue.filter((a) => a.id !== id);
      this.showPopup();
    }

    relabel() {
      this.render();
      if (!this.ctx.popup.hidden) this.showPopup();
    }
  }

  root.LandunAlerts = { AlertPanel, SEVERITY_COLOURS, badge, overdue };
})(window);
