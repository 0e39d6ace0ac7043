/* Vehicle search (issue 13, contract 1): plate, id, company or terminal phone, a substring of
 * any, asked of GET /api/vehicles?q= (the caller's scope); choosing a result selects it. */
(function (root) {
  "use strict";
  const { el, debounce } = root.LandunDom;
  const LIMIT = 20;

  class Search {
    /** ``ctx``: {t, api, input, results (ul), onChoose(vehicle record)}. */
    constructor(ctx) {
      this.ctx = ctx;
      this.items = [];
      this.gen = 0;
      const run = debounce(() => this.run(), 200);
      ctx.input.addEventListener("input", run);
      ctx.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") { e.preventDefault(); this.run().then(() => this.items.length && this.choose(this.items[0])); }
        if (e.key === "Escape") this.clear();
      });
    }

    async run() {
      const q = this.ctx.input.value.trim();
      const gen = ++this.gen;
      if (!q) { this.items = []; this.render(); return; }
      let items;
      try {
        items = await this.ctx.api(`/api/vehicles?q=${encodeURIComponent(q)}&limit=${LIMIT}`);
      } catch (err) {
        items = [];
      }
      if (gen !== this.gen) return; // a newer query was typed meanwhile
      this.items = items.slice(0, LIMIT);
      this.render(q);
    }

    render(q) {
      const { t, results } = this.ctx;
      if (q && !this.items.length) {
        results.replaceChildren(el("li", { class: "none" }, t("search_none")));
        return;
      }
      results.replaceChildren(...this.items.map((v) => el("li", {
        class: "search-item", "data-id": v.id, tabindex: "0", onclick: () => this.choose(v),
        onkeydown: (e) => { if (e.key === "Enter") this.choose(v); },
      },
      el("b", { class: "plate" }, v.plate || v.id),
      el("span", { class: `kind kind-${v.kind}` }, t(`kind_${v.kind}`)),
      el("span", { class: "dim" }, `${v.id} · ${v.company || "—"}`),
      el("span", { class: `state state-${v.position?.state || "offline"}` }, t(`state_${v.position?.state || "offline"}`)))));
    }

    choose(vehicle) {
      this.ctx.onChoose(vehicle);
    }

    clear() {
      this.ctx.input.value = "";
      this.items = [];
      this.ctx.results.replaceChildren();
    }
  }

  root.LandunSearch = { Search };
})(window);
