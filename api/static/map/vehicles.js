/* The live map's vehicles (issue 13): the latest fix of each vehicle, its registry record, the
 * filter, and a glide from the previous fix to the new one over about a second, so a truck whose
 * terminal reports every 10-30 s moves instead of jumping. Pure logic on plain objects (no DOM,
 * no map library): map.js turns `features(now)` into the map's one vehicle source, at most once
 * per animation frame. Positions arrive in WGS-84; `toDisplay` shifts them to the display datum
 * once, on arrival. Loaded in the page and by node (tests/api/test_map_vehicles.py). */
(function (root) {
  "use strict";
  const GLIDE_MS = 1000; // a new fix is reached this long after it arrives
  const KINDS = ["muck", "kitchen", "oil"];
  const STATES = ["on_trip", "loaded", "idle", "offline", "violation"];

  /** Compass bearing (degrees clockwise from north) from one display point to another, or null
   * when they coincide (a parked truck keeps its last heading). */
  function bearing(lat0, lng0, lat1, lng1) {
    const dy = lat1 - lat0;
    const dx = (lng1 - lng0) * Math.cos((lat0 * Math.PI) / 180);
    if (Math.abs(dx) < 1e-9 && Math.abs(dy) < 1e-9) return null;
    return ((Math.atan2(dx, dy) * 180) / Math.PI + 360) % 360;
  }

  /** Whether vehicle ``v``'s fix is inside ``box`` ({south, west, north, east}, display datum;
   * null: everywhere). */
  function inside(v, box) {
    return !box || (v.lat >= box.south && v.lat <= box.north && v.lng >= box.west && v.lng <= box.east);
  }

  class VehicleStore {
    /** ``toDisplay(lat, lng) -> [lat, lng]``: WGS-84 to the map's datum. */
    constructor(toDisplay) {
      this.toDisplay = toDisplay || ((lat, lng) => [lat, lng]);
      this.items = new Map(); // id -> {lat, lng (display, target), from, t0, state, kind, ts, heading, raw}
      this.meta = new Map(); // id -> registry record {plate, kind, company, district}
      this.filter = null;
      this.version = 0; // bumped on every change a redraw must show
    }

    /** A live position record ({vehicle, lat, lng, ts, state, kind, heading, ...}); ``now``: the
     * page clock (performance.now()). Older than the one held: ignored (never step back in event
     * time). Returns whether it changed anything. */
    upsert(p, now) {
      const known = this.items.get(p.vehicle);
      if (known && known.ts > p.ts) return false;
      const [lat, lng] = this.toDisplay(p.lat, p.lng);
      const from = known ? this.positionOf(known, now) : null;
      const moved = from ? bearing(from[0], from[1], lat, lng) : null;
      const heading = Number.isFinite(p.heading) ? p.heading : moved ?? (known ? known.heading : 0);
      this.items.set(p.vehicle, {
        lat, lng, from, t0: now, state: p.state, kind: p.kind, ts: p.ts, heading, raw: p,
      });
      this.version += 1;
      return true;
    }

    /** Replace every vehicle (a snapshot): no glide from the old positions. */
    replace(items, now) {
      this.items.clear();
      items.forEach((p) => this.upsert(p, now));
      this.version += 1;
    }

    setMeta(list) {
      this.meta = new Map(list.map((v) => [v.id, v]));
      this.version += 1;
    }

    setFilter(fn) {
      this.filter = typeof fn === "function" ? fn : null;
      this.version += 1;
    }

    /** Where vehicle ``v`` is drawn at ``now`` (display datum): on its way from the previous
     * drawn position to the new fix, linearly over GLIDE_MS. */
    positionOf(v, now) {
      if (!v.from) return [v.lat, v.lng];
      const f = (now - v.t0) / GLIDE_MS;
      if (f >= 1 || f < 0) return [v.lat, v.lng];
      return [v.from[0] + f * (v.lat - v.from[0]), v.from[1] + f * (v.lng - v.from[1])];
    }

    /** True while some vehicle (in ``box``, when given) is still gliding: the map needs
     * another frame. */
    gliding(now, box = null) {
      for (const v of this.items.values()) {
        if (v.from && now - v.t0 < GLIDE_MS && inside(v, box)) return true;
      }
      return false;
    }

    /** The record the page's filter sees: the live fix joined with the registry. */
    record(id) {
      const v = this.items.get(id);
      if (!v) return null;
      const m = this.meta.get(id) || {};
      const r = v.raw;
      return {
        id, lat: r.lat, lng: r.lng, state: v.state, kind: v.kind || m.kind || null,
        district: r.district || m.district || null, company: m.company || null,
        plate: m.plate || null, speed_kmh: r.speed_kmh ?? null, heading: v.heading, loaded: r.loaded ?? null,
      };
    }

    /** Whether the filter shows vehicle ``id`` (no filter: every vehicle). */
    shown(id) {
      return !this.filter || Boolean(this.filter(this.record(id)));
    }

    /** The shown vehicles as GeoJSON Point features at ``now``: properties id, kind (muck when
     * unknown), state, heading, plate (the id when the registry has none). ``box``: only the
     * vehicles whose fix is inside it. */
    features(now, box = null) {
      const out = [];
      for (const [id, v] of this.items) {
        if (!inside(v, box) || (this.filter && !this.filter(this.record(id)))) continue;
        const [lat, lng] = this.positionOf(v, now);
        const m = this.meta.get(id);
        const kind = KINDS.includes(v.kind) ? v.kind : m && KINDS.includes(m.kind) ? m.kind : "muck";
        out.push({
          type: "Feature",
          geometry: { type: "Point", coordinates: [lng, lat] },
          properties: {
            id, kind, state: STATES.includes(v.state) ? v.state : "idle",
            heading: Math.round(v.heading || 0), plate: (m && m.plate) || id,
          },
        });
      }
      return out;
    }
  }

  const api = { VehicleStore, bearing, GLIDE_MS, KINDS, STATES };
  root.LandunMapVehicles = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
