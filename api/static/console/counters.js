/* The fleet counters (issue 13, contract 4): online/offline as one split of the total,
 * moving/parked as a split of the online, loaded and violating as flags over the online (a
 * loaded truck in violation counts in both). Each labelled for what it counts. */
(function (root) {
  "use strict";
  const { el } = root.LandunDom;
  const SPLITS = [
    { id: "online", parts: ["online", "offline"], of: "total" },
    { id: "moving", parts: ["moving", "parked"], of: "online" },
  ];
  const FLAGS = ["loaded", "violating"];

  class Counters {
    constructor(mount, t) {
      this.mount = mount;
      this.t = t;
      this.counts = null;
      this.render();
    }

    /** ``counts``: the websocket's ``counts`` message body or GET /api/live/counts. */
    update(counts) {
      this.counts = counts;
      this.render();
    }

    value(key) {
      const c = this.counts;
      if (!c) return null;
      return typeof c[key] === "number" ? c[key] : null;
    }

    number(key) {
      const v = this.value(key);
      return el("b", { id: `count-${key}` }, v === null ? "—" : v.toLocaleString());
    }

    bar(parts, of) {
      const whole = this.value(of);
      const bar = el("div", { class: "split-bar" });
      parts.forEach((key) => {
        const part = el("i", { class: `part ${key}` });
        const v = this.value(key);
        part.style.width = whole ? `${(100 * (v || 0)) / whole}%` : "0%"; // CSSOM: CSP-safe
        bar.append(part);
      });
      return bar;
    }

    render() {
      const t = this.t;
      const total = el("div", { class: "counter total" }, this.number("total"),
        el("span", {}, t("count_total")));
      const splits = SPLITS.map(({ id, parts, of }) => el("div", { class: "split", "data-split": id },
        el("div", { class: "split-title" }, t(`split_${id}`)),
        this.bar(parts, of),
        el("div", { class: "split-nums" }, parts.map((key) =>
          el("span", { class: `num ${key}` }, this.number(key), el("small", {}, t(`count_${key}`)))))));
      const flags = el("div", { class: "flags" }, FLAGS.map((key) =>
        el("div", { class: `counter flag ${key}` }, this.number(key), el("span", {}, t(`count_${key}`)))));
      this.mount.replaceChildren(total, ...splits, flags, el("p", { class: "counts-note" }, t("counts_note")));
    }
  }

  root.LandunCounters = { Counters };
})(window);
