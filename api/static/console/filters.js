/* Filters (issue 13): district, company, kind, state and alert type. One predicate for the
 * map's vehicles (LiveMap.setFilter, contract 7) and one for the alert list. A district
 * officer's district is fixed (the server scopes the data anyway). */
(function (root) {
  "use strict";
  const { el } = root.LandunDom;
  const DISTRICTS = ["梁溪", "锡山", "惠山", "滨湖", "新吴", "经开", "江阴", "宜兴"];
  const KINDS = ["muck", "kitchen", "oil"];
  const STATES = ["on_trip", "loaded", "idle", "offline", "violation"];
  const ALERT_TYPES = [
    "unmatched_source", "suspected_dumping", "unmatched_disposal", "unapproved_terminal", "unpermitted_load",
    "signal_lost", "undelivered_collection", "unsourced_delivery", "route_deviation", "restricted_zone",
    "overspeed", "uncovered_load", "unregistered_collection",
  ];
  const KEYS = ["district", "company", "kind", "state", "type"];

  class Filters {
    /** ``ctx``: {t, mount, user(), meta (Map id → registry record), alerts() → alerts,
     * onChange()}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.values = { district: "", company: "", kind: "", state: "", type: "" };
      const own = ctx.user().district;
      if (own) this.values.district = own;
      this.render();
    }

    /** The registry was read again: redraw only when its companies changed (a redraw closes a
     * select the officer has open). */
    metaChanged() {
      const key = this.companies().join("\n");
      if (key !== this.companyKey) this.render();
    }

    companies() {
      return [...new Set([...this.ctx.meta.values()].map((v) => v.company).filter(Boolean))].sort();
    }

    render() {
      const { t, mount } = this.ctx;
      const own = this.ctx.user().district;
      const companies = this.companies();
      this.companyKey = companies.join("\n");
      const options = {
        district: [DISTRICTS, root.LandunI18n.district],
        company: [companies, (v) => v],
        kind: [KINDS, (v) => t(`kind_${v}`)],
        state: [STATES, (v) => t(`state_${v}`)],
        type: [ALERT_TYPES, t],
      };
      mount.replaceChildren(...KEYS.map((key) => {
        const [values, name] = options[key];
        const select = el("select", { id: `filter-${key}`, "data-filter": key, disabled: key === "district" && Boolean(own),
          onchange: (e) => this.set(key, e.target.value) },
        el("option", { value: "" }, t("all")),
        values.map((v) => el("option", { value: v, selected: this.values[key] === v }, name(v))));
        return el("label", { class: "filter" }, el("span", {}, t(`filter_${key}`)), select);
      }), el("button", { type: "button", id: "filter-clear", onclick: () => this.clear() }, t("filter_clear")));
    }

    set(key, value) {
      this.values[key] = value;
      this.ctx.onChange();
    }

    clear() {
      const own = this.ctx.user().district;
      this.values = { district: own || "", company: "", kind: "", state: "", type: "" };
      this.render();
      this.ctx.onChange();
    }

    active() {
      return KEYS.some((k) => this.values[k] && !(k === "district" && this.ctx.user().district));
    }

    /** The registry record's value when the map's record lacks it. */
    field(vehicle, key) {
      return vehicle[key] ?? this.ctx.meta.get(vehicle.id ?? vehicle.vehicle)?.[key];
    }

    /** For LiveMap.setFilter: null when nothing is filtered (draw everything). */
    vehiclePredicate() {
      if (!this.active()) return null;
      const { district, company, kind, state, type } = this.values;
      const flagged = type ? new Set(this.ctx.alerts().filter((a) => a.type === type).map((a) => a.vehicle)) : null;
      return (v) => (!district || this.field(v, "district") === district)
        && (!company || this.field(v, "company") === company)
        && (!kind || this.field(v, "kind") === kind)
        && (!state || v.state === state)
        && (!flagged || flagged.has(v.id ?? v.vehicle));
    }

    /** For the alert list: the alert's district and type, its vehicle's company and kind. */
    alertMatches(a) {
      const { district, company, kind, type } = this.values;
      const meta = this.ctx.meta.get(a.vehicle) || {};
      return (!district || a.district === district)
        && (!type || a.type === type)
        && (!company || meta.company === company)
        && (!kind || meta.kind === kind);
    }
  }

  root.LandunFilters = { Filters, DISTRICTS, KINDS, STATES, ALERT_TYPES };
})(window);
