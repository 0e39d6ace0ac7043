/* The live map: Web Mercator on one <canvas>, optional raster tiles, fences, a track and
 * thousands of vehicles (one path per state colour per frame, never one DOM node per vehicle).
 * Coordinates arrive in WGS-84; on GCJ-02 tiles everything is shifted to GCJ-02 once, on arrival. */
(function (root) {
  "use strict";
  const TILE = 256;
  const STATE_COLOURS = {
    on_trip: "#38bdf8",
    loaded: "#f59e0b",
    idle: "#94a3b8",
    offline: "#4b5563",
    violation: "#ef4444",
  };
  const FENCE_COLOURS = {
    site: "#facc15",
    transfer: "#2dd4bf",
    terminal: "#22c55e",
    producer: "#c084fc",
    plant: "#a855f7",
    restricted: "#f43f5e",
    depot: "#9ca3af",
    corridor: "#3b82f6",
  };

  function worldPixel(lat, lng, zoom) {
    const size = TILE * Math.pow(2, zoom);
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return [((lng + 180) / 360) * size, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size];
  }

  function worldToLatLng(x, y, zoom) {
    const size = TILE * Math.pow(2, zoom);
    const lng = (x / size) * 360 - 180;
    const n = Math.PI - (2 * Math.PI * y) / size;
    return [(180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), lng];
  }

  class LiveMap {
    constructor(canvas, options) {
      this.canvas = canvas;
      this.ctx = canvas.getContext("2d");
      this.tileUrl = options.tileUrl || "";
      // Shift to GCJ-02 only to sit on GCJ-02 tiles; offline the map draws WGS-84 as stored.
      this.gcj = Boolean(this.tileUrl) && options.tileDatum === "gcj02";
      this.zoom = options.zoom || 11;
      this.center = this.toDisplay(options.center[0], options.center[1]);
      this.vehicles = new Map(); // id -> {lat, lng (display datum), state, kind, district}
      this.fences = []; // {id, kind, name, rings: [[[lat, lng], ...], ...]} (display datum)
      this.track = [];
      this.selected = null;
      this.highlightFence = null;
      this.replayLayer = null; // replay mode (api/static/replay.js) draws instead of the live layers
      this.tiles = new Map();
      this.onViewChange = options.onViewChange || function () {};
      this.onVehicleClick = options.onVehicleClick || function () {};
      this.dirty = true;
      this.frames = 0;
      this.bindEvents();
      this.resize();
      const loop = () => {
        if (this.dirty) this.draw();
        root.requestAnimationFrame(loop);
      };
      root.requestAnimationFrame(loop);
    }

    toDisplay(lat, lng) {
      return this.gcj ? root.LandunDatum.wgs84ToGcj02(lat, lng) : [lat, lng];
    }

    toWgs(lat, lng) {
      return this.gcj ? root.LandunDatum.gcj02ToWgs84(lat, lng) : [lat, lng];
    }

    upsertVehicle(p) {
      const [lat, lng] = this.toDisplay(p.lat, p.lng);
      const known = this.vehicles.get(p.vehicle);
      if (known && known.ts > p.ts) return; // never step back in event time
      this.vehicles.set(p.vehicle, { lat, lng, state: p.state, kind: p.kind, ts: p.ts, raw: p });
      this.dirty = true;
    }

    replaceVehicles(items) {
      this.vehicles.clear();
      items.forEach((p) => this.upsertVehicle(p));
      this.dirty = true;
    }

    setFences(features) {
      this.fences = this.fenceShapes(features);
      this.dirty = true;
    }

    /** GeoJSON fence Features -> the shapes drawFences takes (display datum). */
    fenceShapes(features) {
      return features.map((f) => {
        const g = f.geometry || {};
        const polys = g.type === "MultiPolygon" ? g.coordinates : g.type === "Polygon" ? [g.coordinates] : [];
        const rings = [];
        polys.forEach((poly) => poly.forEach((ring) => rings.push(ring.map(([lng, lat]) => this.toDisplay(lat, lng)))));
        const p = f.properties || {};
        return { id: f.id, kind: p.kind, name: p.name || f.id, rings };
      });
    }

    /** Replay mode's hook (issue 12): while ``layer`` is set, each frame draws the background and
     * then ``layer.draw(map, ctx)`` in place of the live fences, track and vehicles; the layer
     * draws through this map's projection (screen, toDisplay, worldPixel) and drawFences. */
    setReplayLayer(layer) {
      this.replayLayer = layer || null;
      this.dirty = true;
    }

    setTrack(coordinates) {
      this.track = coordinates.map(([lng, lat]) => this.toDisplay(lat, lng));
      this.dirty = true;
    }

    focus(lat, lng, zoom) {
      this.center = this.toDisplay(lat, lng);
      if (zoom) this.zoom = zoom;
      this.viewChanged();
    }

    viewChanged() {
      this.dirty = true;
      this.onViewChange(this.bboxWgs(), this.zoom);
    }

    /** The visible area as a WGS-84 [west, south, east, north] box, padded a little. */
    bboxWgs() {
      const [cx, cy] = worldPixel(this.center[0], this.center[1], this.zoom);
      const w = this.width * 0.6;
      const h = this.height * 0.6;
      const [north, west] = this.toWgs(...worldToLatLng(cx - w, cy - h, this.zoom));
      const [south, east] = this.toWgs(...worldToLatLng(cx + w, cy + h, this.zoom));
      return [west, south, east, north].map((v) => Math.round(v * 1e6) / 1e6);
    }

    screen(lat, lng) {
      const [x, y] = worldPixel(lat, lng, this.zoom);
      return [x - this.origin[0], y - this.origin[1]];
    }

    resize() {
      const ratio = root.devicePixelRatio || 1;
      const rect = this.canvas.getBoundingClientRect();
      this.width = rect.width;
      this.height = rect.height;
      this.canvas.width = Math.round(rect.width * ratio);
      this.canvas.height = Math.round(rect.height * ratio);
      this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      this.dirty = true;
    }

    bindEvents() {
      let drag = null;
      this.canvas.addEventListener("mousedown", (e) => {
        drag = { x: e.clientX, y: e.clientY, moved: false };
      });
      root.addEventListener("mousemove", (e) => {
        if (!drag) return;
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
        const [cx, cy] = worldPixel(this.center[0], this.center[1], this.zoom);
        this.center = worldToLatLng(cx - dx, cy - dy, this.zoom);
        drag.x = e.clientX;
        drag.y = e.clientY;
        this.dirty = true;
      });
      root.addEventListener("mouseup", (e) => {
        if (drag && !drag.moved) this.click(e);
        if (drag && drag.moved) this.viewChanged();
        drag = null;
      });
      this.canvas.addEventListener("wheel", (e) => {
        e.preventDefault();
        const next = Math.max(3, Math.min(18, this.zoom + (e.deltaY < 0 ? 1 : -1)));
        if (next === this.zoom) return;
        const rect = this.canvas.getBoundingClientRect();
        const at = [e.clientX - rect.left, e.clientY - rect.top];
        const pointed = worldToLatLng(this.origin[0] + at[0], this.origin[1] + at[1], this.zoom);
        const [px, py] = worldPixel(pointed[0], pointed[1], next);
        this.zoom = next;
        this.center = worldToLatLng(px - at[0] + this.width / 2, py - at[1] + this.height / 2, next);
        this.viewChanged();
      }, { passive: false });
      root.addEventListener("resize", () => {
        this.resize();
        this.viewChanged();
      });
    }

    click(e) {
      const rect = this.canvas.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const y = e.clientY - rect.top;
      let best = null;
      let bestD = 64; // within 8 px
      this.vehicles.forEach((v, id) => {
        const [sx, sy] = this.screen(v.lat, v.lng);
        const d = (sx - x) * (sx - x) + (sy - y) * (sy - y);
        if (d < bestD) {
          bestD = d;
          best = id;
        }
      });
      if (best) this.onVehicleClick(best);
    }

    draw() {
      this.dirty = false;
      this.frames += 1;
      const ctx = this.ctx;
      const [cx, cy] = worldPixel(this.center[0], this.center[1], this.zoom);
      this.origin = [cx - this.width / 2, cy - this.height / 2];
      ctx.fillStyle = "#0b1526";
      ctx.fillRect(0, 0, this.width, this.height);
      if (this.tileUrl) this.drawTiles();
      else this.drawGrid();
      if (this.replayLayer) {
        this.replayLayer.draw(this, ctx);
        return;
      }
      this.drawFences();
      this.drawTrack();
      this.drawVehicles();
    }

    drawTiles() {
      const z = this.zoom;
      const n = Math.pow(2, z);
      const [x0, y0] = [Math.floor(this.origin[0] / TILE), Math.floor(this.origin[1] / TILE)];
      const [x1, y1] = [Math.floor((this.origin[0] + this.width) / TILE), Math.floor((this.origin[1] + this.height) / TILE)];
      for (let x = x0; x <= x1; x++) {
        for (let y = y0; y <= y1; y++) {
          if (y < 0 || y >= n) continue;
          const tx = ((x % n) + n) % n;
          const img = this.tile(z, tx, y);
          if (img && img.complete && img.naturalWidth) {
            ctx_drawImage(this.ctx, img, x * TILE - this.origin[0], y * TILE - this.origin[1]);
          }
        }
      }
    }

    tile(z, x, y) {
      const key = `${z}/${x}/${y}`;
      let img = this.tiles.get(key);
      if (img === undefined) {
        img = new Image();
        img.onload = () => { this.dirty = true; };
        img.onerror = () => { this.tiles.set(key, null); }; // offline: keep drawing without it
        img.src = this.tileUrl.replace("{z}", z).replace("{x}", x).replace("{y}", y);
        this.tiles.set(key, img);
        if (this.tiles.size > 600) this.tiles.delete(this.tiles.keys().next().value);
      }
      return img;
    }

    drawGrid() {
      const ctx = this.ctx;
      ctx.strokeStyle = "rgba(56, 189, 248, 0.08)";
      ctx.lineWidth = 1;
      const step = TILE / 2;
      ctx.beginPath();
      for (let x = -(this.origin[0] % step); x < this.width; x += step) {
        ctx.moveTo(x, 0);
        ctx.lineTo(x, this.height);
      }
      for (let y = -(this.origin[1] % step); y < this.height; y += step) {
        ctx.moveTo(0, y);
        ctx.lineTo(this.width, y);
      }
      ctx.stroke();
    }

    drawFences(fences = this.fences) {
      const ctx = this.ctx;
      for (const f of fences) {
        const colour = FENCE_COLOURS[f.kind] || "#e5e7eb";
        const hot = f.id === this.highlightFence;
        ctx.beginPath();
        for (const ring of f.rings) {
          ring.forEach(([lat, lng], i) => {
            const [x, y] = this.screen(lat, lng);
            if (i === 0) ctx.moveTo(x, y);
            else ctx.lineTo(x, y);
          });
          ctx.closePath();
        }
        ctx.globalAlpha = hot ? 0.45 : f.kind === "corridor" ? 0.12 : 0.2;
        ctx.fillStyle = colour;
        ctx.fill("evenodd");
        ctx.globalAlpha = 1;
        ctx.strokeStyle = hot ? "#ffffff" : colour;
        ctx.lineWidth = hot ? 3 : 1;
        ctx.stroke();
        // Names only when zoomed in (producers, the most numerous, even further) to stay legible.
        if (this.zoom >= (f.kind === "producer" ? 16 : 15) && f.rings.length) {
          const [x, y] = this.screen(...f.rings[0][0]);
          ctx.fillStyle = "#e2e8f0";
          ctx.font = "11px sans-serif";
          ctx.fillText(f.name, x + 3, y - 3);
        }
      }
    }

    drawTrack() {
      if (this.track.length < 2) return;
      const ctx = this.ctx;
      ctx.beginPath();
      this.track.forEach(([lat, lng], i) => {
        const [x, y] = this.screen(lat, lng);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = "#fde047";
      ctx.lineWidth = 3;
      ctx.setLineDash([6, 4]);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    drawVehicles() {
      const ctx = this.ctx;
      const size = this.zoom >= 15 ? 7 : this.zoom >= 12 ? 5 : 3;
      const half = size / 2;
      const paths = {};
      for (const state in STATE_COLOURS) paths[state] = new Path2D();
      let selected = null;
      this.vehicles.forEach((v, id) => {
        const [x, y] = this.screen(v.lat, v.lng);
        if (x < -size || y < -size || x > this.width + size || y > this.height + size) return;
        (paths[v.state] || paths.idle).rect(x - half, y - half, size, size);
        if (id === this.selected) selected = [x, y];
      });
      for (const state in STATE_COLOURS) {
        ctx.fillStyle = STATE_COLOURS[state];
        ctx.fill(paths[state]);
      }
      if (selected) {
        ctx.beginPath();
        ctx.arc(selected[0], selected[1], size + 6, 0, 2 * Math.PI);
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.stroke();
      }
    }
  }

  function ctx_drawImage(ctx, img, x, y) {
    ctx.drawImage(img, Math.round(x), Math.round(y), TILE, TILE);
  }

  root.LandunMap = { LiveMap, STATE_COLOURS, FENCE_COLOURS, worldPixel, worldToLatLng };
})(window);
