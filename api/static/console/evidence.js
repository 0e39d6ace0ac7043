/* Each alert type's key evidence in the UI's language (issue 13): speed and limit, metres off
 * the corridor, dwell time, permit... read from the evidence keys the rules write
 * (stream/engine/rules/*.py). Returns lines of text; the caller puts them in as text. */
(function (root) {
  "use strict";
  const C = () => root.LandunClock;

  /** ``"车速 {speed} km/h"`` with ``{speed: 99.3}`` → ``"车速 99.3 km/h"``. */
  function fill(template, vars) {
    return template.replace(/\{(\w+)\}/g, (_, k) => (vars[k] === undefined || vars[k] === null ? "—" : String(vars[k])));
  }

  function num(v, digits = 1) {
    if (typeof v !== "number" || !Number.isFinite(v)) return null;
    return Math.round(v * 10 ** digits) / 10 ** digits;
  }

  /** Seconds → "N 分钟" / "N 秒" (en: "N min" / "N s"). */
  function duration(seconds, t) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) return null;
    if (seconds < 60) return `${Math.round(seconds)}${t("unit_sec")}`;
    const minutes = seconds / 60;
    return `${minutes < 10 ? Math.round(minutes * 10) / 10 : Math.round(minutes)}${t("unit_minutes")}`;
  }

  function list(values, t) {
    return Array.isArray(values) && values.length ? values.join("、") : t("ev_none");
  }

  // type → (evidence, alert, t, name) → lines; ``name(fenceId)`` gives a fence's display name.
  const BY_TYPE = {
    overspeed: (ev, a, t) => [
      fill(t("ev_speed"), { speed: num(ev.speed_kmh ?? ev.peak_kmh), limit: num(ev.limit_kmh ?? ev.thresholds?.limit_kmh, 0) }),
      ev.duration_s !== undefined && fill(t("ev_sustained"), { d: duration(ev.duration_s, t) }),
    ],
    route_deviation: (ev, a, t, name) => [
      fill(t("ev_deviation"), { m: num(ev.peak_m, 0), mean: num(ev.mean_m, 0) }),
      ev.corridor && fill(t("ev_corridor"), { name: name(ev.corridor) }),
      ev.duration_s !== undefined && fill(t("ev_sustained"), { d: duration(ev.duration_s, t) }),
    ],
    suspected_dumping: (ev, a, t, name) => [
      ev.trigger === "lift" ? t("ev_lift") : fill(t("ev_dwell"), { d: duration(ev.duration_s, t) }),
      ev.nearest_place ? fill(t("ev_nearest"), { name: name(ev.nearest_place.fence), m: num(ev.nearest_place.distance_m, 0) })
        : t("ev_no_place"),
    ],
    unregistered_collection: (ev, a, t) => [
      typeof ev.duration_s === "number" && fill(t("ev_dwell"), { d: duration(ev.duration_s, t) }),
      ev.contract ? fill(t("ev_poach"), { id: ev.contract.id, company: ev.contract.company || "—" }) : t("ev_unregistered"),
    ],
    signal_lost: (ev, a, t) => [
      typeof ev.gap_s === "number" ? fill(t("ev_gap"), { d: duration(ev.gap_s, t), m: num(ev.gap_m, 0) }) : t("ev_gap_open"),
    ],
    uncovered_load: (ev, a, t) => [
      fill(t("ev_uncovered"), { d: duration(ev.duration_s, t), speed: num(ev.peak_kmh) }),
    ],
    unmatched_source: (ev, a, t, name) => [
      fill(t("ev_loaded_at"), { time: C().formatData(ev.load_ts), site: name(a.fence) }),
      fill(t("ev_deadline"), { time: C().formatData(ev.deadline) }),
      ev.resolved_by && fill(t("ev_resolved"), { time: C().formatData(ev.resolved_by.unload_ts), name: name(ev.resolved_by.unload_fence) }),
    ],
    unpermitted_load: (ev, a, t) => [
      fill(t("ev_reason"), { reason: t(`why_${ev.reason}`) }),
      fill(t("ev_permits_checked"), { ids: list(ev.permits_checked, t) }),
    ],
    unapproved_terminal: (ev, a, t, name) => [
      fill(t("ev_unloaded_at"), { name: name(a.fence) }),
      fill(t("ev_approved"), { ids: list((ev.approved_terminals || []).map(name), t) }),
    ],
    unmatched_disposal: (ev, a, t, name) => [fill(t("ev_unloaded_at"), { name: name(a.fence) }), t("ev_no_load")],
    restricted_zone: (ev, a, t, name) => [
      fill(t("ev_zone"), { name: ev.zone?.name || name(a.fence), window: ev.window || list(ev.zone?.hours, t) }),
    ],
    unsourced_delivery: (ev, a, t, name) => [
      fill(t("ev_delivered_at"), { name: name(a.fence) }),
      fill(t("ev_last_delivery"), { time: ev.last_delivery ? C().formatData(ev.last_delivery) : t("ev_none") }),
    ],
    undelivered_collection: (ev, a, t) => [
      fill(t("ev_collections"), { n: (ev.collections || []).length, time: C().formatData(ev.deadline) }),
    ],
  };

  /** The alert's key evidence, one line each, in the UI's language; the permit always. */
  function lines(alert, t, name = (id) => id || "—") {
    const ev = alert.evidence || {};
    const build = BY_TYPE[alert.type];
    const out = build ? build(ev, alert, t, name).filter(Boolean) : [];
    if (alert.permit) out.push(fill(t("ev_permit"), { id: alert.permit }));
    if (alert.late) out.push(t("ev_late"));
    return out;
  }

  /** The rule's text in the UI's language (the engine writes it in English). */
  function rule(alert, t, lang) {
    const text = alert.evidence?.rule;
    if (!text) return "—";
    if (lang === "en") return text;
    const zh = t(`rule:${text}`);
    return zh === `rule:${text}` ? text : zh;
  }

  root.LandunEvidence = { lines, rule, duration, fill };
})(window);
