/* Cases (issue 13, contract 3): the alert's case card with its evidence, a form per action
 * (dispatch: assignee, deadline, note; handle/close: a note; dismiss: a reason from the list and
 * free text; never the browser's prompt()), the trail, and today's case list with filters. */
(function (root) {
  "use strict";
  const { el, debounce } = root.LandunDom;
  const C = () => root.LandunClock;
  const NEXT = { open: ["dispatched", "dismissed"], dispatched: ["handled", "dismissed"], handled: ["closed"] };
  const ACTORS = { // who may set each state (api/cases.py ACTORS)
    dispatched: ["admin", "city", "district", "enforcement"],
    handled: ["admin", "district", "enforcement"],
    closed: ["admin", "city", "district", "enforcement"],
    dismissed: ["admin", "city", "district"],
  };
  const DEADLINE_MS = 2 * 3600 * 1000; // the form's default: two hours to reach the spot
  // Used only while GET /api/cases/reasons cannot be read (contract 3 lists the same codes).
  const FALLBACK_REASONS = [
    { code: "false_alarm", zh: "误报", en: "False alarm" }, { code: "duplicate", zh: "重复告警", en: "Duplicate" },
    { code: "authorised", zh: "已审批作业", en: "Authorised work" }, { code: "device_fault", zh: "设备故障", en: "Device fault" },
    { code: "other", zh: "其他", en: "Other" },
  ];

  /** A 422's ``detail`` (a string, or pydantic's list of {loc, msg}) as one line. */
  function problem(err) {
    const detail = err.detail ?? err.message;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(-1)[0] || ""}: ${d.msg}`).join("; ");
    return String(detail);
  }

  class CaseCard {
    /** ``ctx``: {t, api, box, user(), label(vehicle), fenceName(id), reasons(), onUpdated(alert),
     * onReplay(alert), onVehicle(id)}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.alert = null;
      this.form = null; // the target state whose form is open
    }

    show(alert) {
      if (this.alert?.id !== alert.id) this.form = null;
      this.alert = alert;
      this.render();
    }

    hide() {
      this.alert = null;
      this.ctx.box.hidden = true;
    }

    render() {
      const { t, box, label, fenceName } = this.ctx;
      const a = this.alert;
      if (!a) return;
      const lang = root.LandunI18n.lang;
      const facts = [
        ["vehicle", label(a.vehicle)], ["district", root.LandunI18n.district(a.district)],
        ["time", C().formatData(a.ts) + (a.late ? ` (${t("late")})` : "")],
        ["fence", a.fence ? fenceName(a.fence) : "—"], ["permit", a.permit || "—"],
        ["rule", root.LandunEvidence.rule(a, t, lang)],
      ];
      const c = a.case;
      const role = this.ctx.user().role;
      const typed = this.typed(); // an update of the alert must not wipe a half-filled form
      const actions = (NEXT[c.state] || []).filter((s) => ACTORS[s].includes(role));
      if (this.form && !actions.includes(this.form)) this.form = null; // moved on meanwhile
      box.replaceChildren(...[
        el("div", { class: "card-head" }, root.LandunAlerts.badge(a.severity, t), el("h3", {}, t(a.type)),
          el("button", { type: "button", class: "close", "aria-label": t("close"), onclick: () => this.hide() }, "×")),
        el("ul", { class: "evidence" }, root.LandunEvidence.lines(a, t, fenceName).map((line) => el("li", {}, line))),
        el("dl", {}, facts.map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)])),
        el("div", { class: "case-state" }, el("span", { class: `badge ${c.state}` }, t("case_" + c.state)),
          c.assignee && ` ${t("assignee")}: ${c.assignee}`,
          typeof c.deadline === "number" && ` · ${t("deadline")}: ${C().format(c.deadline)}`,
          root.LandunAlerts.overdue(a, Date.now()) && el("b", { class: "overdue-note" }, ` ${t("overdue")}`)),
        el("div", { class: "actions" },
          actions.map((s) => el("button", { type: "button", "data-action": s, class: this.form === s ? "active" : "",
            onclick: () => { this.form = s; this.render(); } }, t("act_" + s))),
          el("button", { type: "button", class: "replay-link", "data-replay": a.id, onclick: () => this.ctx.onReplay(a) }, t("replay_link")),
          el("button", { type: "button", class: "vehicle-link", onclick: () => this.ctx.onVehicle(a.vehicle) }, t("vehicle_card"))),
        this.form && this.formFor(this.form),
        el("b", {}, t("history")),
        el("ol", { class: "history" }, c.history.map((h) => el("li", {}, this.trail(h)))),
      ].filter(Boolean));
      Object.entries(typed).forEach(([id, value]) => { const input = root.document.getElementById(id); if (input) input.value = value; });
      box.dataset.id = a.id;
      box.hidden = false;
    }

    /** The open form's field values by element id ({} when no form is open). */
    typed() {
      const form = root.document.getElementById("case-form");
      if (!form || form.dataset.target !== this.form) return {};
      return Object.fromEntries([...form.querySelectorAll("input, select, textarea")].map((n) => [n.id, n.value]));
    }

    trail(h) {
      const t = this.ctx.t;
      const parts = [t("case_" + h.state), h.by, C().format(h.at)];
      if (h.assignee) parts.push(`${t("assignee")} ${h.assignee}`);
      if (h.deadline !== undefined && h.deadline !== null) parts.push(`${t("deadline")} ${C().format(h.deadline)}`);
      if (h.reason) parts.push(this.reasonText(h.reason));
      if (h.note) parts.push(h.note);
      return parts.join(" · ");
    }

    reasonText(code) {
      const found = this.ctx.reasons().find((r) => r.code === code);
      if (!found) return code;
      return root.LandunI18n.lang === "en" ? found.en : found.zh;
    }

    /** The form of one action; fields by contract 3. */
    formFor(target) {
      const t = this.ctx.t;
      const a = this.alert;
      const field = (key, input) => el("label", {}, el("span", {}, t(key)), input);
      const fields = [];
      if (target === "dispatched") {
        const teams = [`${a.district || ""}${t("team_suffix")}`, t("team_city")];
        fields.push(field("assignee", el("input", { id: "case-assignee", name: "assignee", maxlength: "64", list: "case-teams", "aria-required": "true" })),
          el("datalist", { id: "case-teams" }, teams.map((v) => el("option", { value: v }))),
          field("deadline_bj", el("input", { id: "case-deadline", name: "deadline", type: "datetime-local", "aria-required": "true",
            value: C().toInput(Date.now() + DEADLINE_MS) })));
      }
      if (target === "dismissed") {
        const reasons = this.ctx.reasons();
        fields.push(field("reason", el("select", { id: "case-reason", name: "reason", "aria-required": "true" },
          el("option", { value: "" }, t("choose")),
          reasons.map((r) => el("option", { value: r.code }, root.LandunI18n.lang === "en" ? r.en : r.zh)))));
      }
      const noteRequired = target === "handled" || target === "closed";
      fields.push(field(noteRequired ? "note_required" : "note", el("textarea", { id: "case-note", name: "note", rows: "2", maxlength: "2000" })));
      return el("form", { id: "case-form", class: "case-form", "data-target": target, novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submit(target); } },
        el("b", {}, t("act_" + target)), fields,
        el("p", { id: "case-error", class: "error", role: "alert" }),
        el("div", { class: "actions" },
          el("button", { type: "submit", id: "case-submit" }, t("submit")),
          el("button", { type: "button", id: "case-cancel", onclick: () => { this.form = null; this.render(); } }, t("cancel"))));
    }

    /** Check what the form can check, then POST; a 422 or 409 is shown in the form. */
    async submit(target) {
      const t = this.ctx.t;
      const value = (id) => (root.document.getElementById(id)?.value || "").trim();
      const body = { state: target, note: value("case-note") };
      let missing = null;
      if (target === "dispatched") {
        body.assignee = value("case-assignee");
        body.deadline = C().fromInput(value("case-deadline"));
        if (!body.assignee) missing = "assignee";
        else if (!body.deadline) missing = "deadline";
        else if (Date.parse(body.deadline) <= Date.now()) missing = "deadline_past";
      } else if (target === "dismissed") {
        body.reason = value("case-reason");
        if (!body.reason) missing = "reason";
        else if (body.reason === "other" && !body.note) missing = "note_for_other";
      } else if (!body.note) missing = "note";
      const error = root.document.getElementById("case-error");
      if (missing) { error.textContent = t(`missing_${missing}`); return; }
      try {
        const updated = await this.ctx.api(`/api/alerts/${encodeURIComponent(this.alert.id)}/case`,
          { method: "POST", body: JSON.stringify(body) });
        this.form = null;
        this.ctx.onUpdated(updated);
      } catch (err) {
        error.textContent = problem(err);
      }
    }
  }

  class CaseList {
    /** ``ctx``: {t, api, panel, user(), label(vehicle), onSelect(alert)}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.items = [];
      this.build();
      this.refreshSoon = debounce(() => { if (!this.ctx.panel.hidden) this.load(); }, 1000);
    }

    /** (Re)build the panel, in the UI's language, keeping the filters' values. */
    build() {
      const { t, panel } = this.ctx;
      const kept = this.dom ? { day: this.dom.day.value, state: this.dom.state.value, type: this.dom.type.value,
        district: this.dom.district?.value, overdue: this.dom.overdue.checked } : null;
      const states = ["", "open", "dispatched", "handled", "closed", "dismissed"];
      const types = ["", ...root.LandunFilters.ALERT_TYPES];
      const select = (id, values, name) => el("select", { id, onchange: () => this.load() },
        values.map((v) => el("option", { value: v }, v ? name(v) : t("all"))));
      const user = this.ctx.user();
      this.dom = {
        day: el("input", { id: "cases-day", type: "date", onchange: () => this.load() }),
        state: select("cases-state", states, (v) => t("case_" + v)),
        type: select("cases-type", types, t),
        district: user.district ? null : select("cases-district", ["", ...root.LandunFilters.DISTRICTS], root.LandunI18n.district),
        overdue: el("input", { id: "cases-overdue", type: "checkbox", onchange: () => this.load() }),
        body: el("tbody", { id: "cases-body" }),
        status: el("span", { id: "cases-status", class: "dim" }),
      };
      const d = this.dom;
      if (kept) {
        ["day", "state", "type"].forEach((k) => { d[k].value = kept[k]; });
        if (d.district) d.district.value = kept.district || "";
        d.overdue.checked = kept.overdue;
      }
      panel.replaceChildren(
        el("div", { class: "cases-head" }, el("h2", {}, t("cases_today")),
          el("label", {}, t("day_bj"), d.day), el("label", {}, t("case_state"), d.state), el("label", {}, t("alert_type"), d.type),
          d.district && el("label", {}, t("district"), d.district),
          el("label", {}, d.overdue, t("overdue_only")), d.status,
          el("button", { type: "button", id: "cases-close", onclick: () => this.hide() }, t("close"))),
        el("table", { class: "cases" }, el("thead", {}, el("tr", {},
          ["time", "severity", "alert_type", "vehicle", "district", "case_state", "assignee", "deadline"].map((k) => el("th", {}, t(k)))),
        el("tr", { class: "units" }, el("th", {}, t(C().demo ? "clock_sim" : "clock_bj")), el("th", { colspan: "6" }), el("th", {}, t("clock_bj")))), d.body));
    }

    show() {
      this.ctx.panel.hidden = false;
      this.load();
    }

    hide() {
      this.ctx.panel.hidden = true;
    }

    toggle() {
      if (this.ctx.panel.hidden) this.show(); else this.hide();
    }

    async load() {
      const d = this.dom;
      const params = new URLSearchParams();
      if (d.day.value) params.set("day", d.day.value);
      if (d.state.value) params.set("state", d.state.value);
      if (d.type.value) params.set("type", d.type.value);
      if (d.district?.value) params.set("district", d.district.value);
      if (d.overdue.checked) params.set("overdue", "true");
      const gen = (this.gen = (this.gen || 0) + 1); // filters changed quickly: the last one wins
      let items;
      let status;
      try {
        items = await this.ctx.api(`/api/cases?${params}`);
        status = `${items.length}`;
      } catch (err) {
        items = [];
        status = problem(err);
      }
      if (gen !== this.gen) return;
      this.items = items;
      d.status.textContent = status;
      this.render();
    }

    render() {
      const { t, label } = this.ctx;
      this.dom.body.replaceChildren(...this.items.map((a) => el("tr", {
        class: `case-row${a.overdue ? " overdue" : ""}`, "data-id": a.id, onclick: () => this.ctx.onSelect(a),
      },
      el("td", {}, C().short(a.ts)), el("td", {}, root.LandunAlerts.badge(a.severity, t)), el("td", {}, t(a.type)),
      el("td", {}, label(a.vehicle)), el("td", {}, root.LandunI18n.district(a.district)),
      el("td", {}, el("span", { class: `badge ${a.case.state}` }, t("case_" + a.case.state)), a.overdue && el("b", { class: "overdue-note" }, ` ${t("overdue")}`)),
      el("td", {}, a.case.assignee || "—"),
      el("td", {}, typeof a.case.deadline === "number" ? C().short(a.case.deadline) : "—"))));
    }
  }

  root.LandunCases = { CaseCard, CaseList, FALLBACK_REASONS, problem };
})(window);
