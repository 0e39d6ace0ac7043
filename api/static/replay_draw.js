/* Replay mode's drawing (issue 12): one frame of a replay session on the live map, through its
 * projection (screen, toDisplay, worldPixel) and drawFences: the fences as they were, the tracks
 * up to the playhead coloured by state, stops, alerts once fired, and the vehicles' markers.
 * replay.js owns the session (clock, fetching, panel); this module only reads it. */
(function (root) {
  "use strict";
  const L = root.LandunReplayLogic;
  const doc = root.document;
  const COLOURS = { empty: "#94a3b8", loaded: "#f59e0b", violating: "#ef4444" };
  const GAP_COLOUR = "#64748b";
  const STOP_COLOUR = "#c084fc";

  /** Each vehicle's position at the session's playhead: {vehicle, lat, lng (WGS-84), dlat, dlng
   * (the map's datum), state, held}. */
  function markersAt(s) {
    const out = [];
    s.tracks.forEach((v, vehicle) => {
      const p = v.track && L.positionAt(v.track, s.playhead);
      if (p) out.push({ vehicle, lat: p.lat, lng: p.lng, state: p.state, held: p.held, dlat: p.dlat, dlng: p.dlng });
    });
    return out;
  }

  /** Draws a replay session; keeps the trail bitmap between frames. ``t``: the i18n lookup. */
  class Painter {
    constructor(t) {
      this.t = t;
      this.trail = null;
    }

    /** One frame of replay ``s`` (a Replay session) on ``map``. */
    draw(map, ctx, s) {
      map.drawFences(s.fences);
      this.drawTrails(map, ctx, s);
      this.drawStops(map, ctx, s);
      this.drawAlerts(map, ctx, s);
      this.drawMarkers(map, ctx, s);
    }

    /** The tracks up to the playhead, each stretch in the state of its first fix (dashed grey
     * across a signal gap). Rasterising a night of 100 tracks takes a software canvas ~250 ms,
     * so the stretches behind the playhead live in an offscreen "trail" bitmap to which each
     * frame adds only the stretches that ended since the last one. The bitmap reaches a quarter
     * of the view beyond each edge, so panning that far only moves it; it is redrawn whole when
     * the view zooms or pans further, the playhead goes back, or data at or before the playhead
     * arrives. The stretch from each vehicle's last fix to its moving marker is drawn afresh. */
    drawTrails(map, ctx, s) {
      const trail = this.trail || (this.trail = { canvas: doc.createElement("canvas"), key: null, upto: 0 });
      const ratio = map.canvas.width / map.width;
      const pad = [Math.round(map.width / 4), Math.round(map.height / 4)];
      const key = [s.gen, s.trailVersion, map.zoom, map.canvas.width, map.canvas.height].join(":");
      const t = s.playhead;
      const far = !trail.origin || Math.abs(map.origin[0] - pad[0] - trail.origin[0]) > pad[0] ||
        Math.abs(map.origin[1] - pad[1] - trail.origin[1]) > pad[1];
      if (trail.key !== key || far || t < trail.upto) {
        trail.canvas.width = Math.round((map.width + 2 * pad[0]) * ratio); // also clears it
        trail.canvas.height = Math.round((map.height + 2 * pad[1]) * ratio);
        trail.origin = [map.origin[0] - pad[0], map.origin[1] - pad[1]]; // world px of its corner
        trail.key = key;
        trail.upto = -Infinity;
      }
      const [dx, dy] = [map.origin[0] - trail.origin[0], map.origin[1] - trail.origin[1]];
      if (t > trail.upto) {
        const tctx = trail.canvas.getContext("2d");
        tctx.setTransform(ratio, 0, 0, ratio, dx * ratio, dy * ratio); // map.screen -> the bitmap
        this.stroke(tctx, this.stretches(map, s, trail.upto, t));
        trail.upto = t;
      }
      ctx.drawImage(trail.canvas, -dx, -dy, trail.canvas.width / ratio, trail.canvas.height / ratio);
      const moving = {};
      s.tracks.forEach((v) => {
        const tr = v.track;
        const p = tr && L.positionAt(tr, t);
        if (!p || p.held) return;
        const i = p.index;
        const path = moving[tr.state[i]] || (moving[tr.state[i]] = new root.Path2D());
        path.moveTo(...map.screen(tr.dlat[i], tr.dlng[i]));
        path.lineTo(...map.screen(p.dlat, p.dlng));
      });
      this.stroke(ctx, moving);
    }

    /** Path2Ds by state (and "gap") in screen pixels of every stretch from one fix to the
     * next whose later fix is in (lo, hi]. */
    stretches(map, s, lo, hi) {
      const out = {};
      s.tracks.forEach((v) => {
        const tr = v.track;
        if (!tr || tr.n < 2) return;
        const first = Math.max(1, lo === -Infinity ? 1 : L.upper(tr.t, lo, tr.n));
        const last = L.upper(tr.t, hi, tr.n) - 1;
        let pen = -1;
        let penKey = null;
        for (let j = first; j <= last; j++) {
          const key = tr.t[j] - tr.t[j - 1] > L.GAP_MS ? "gap" : tr.state[j - 1];
          const path = out[key] || (out[key] = new root.Path2D());
          if (pen !== j - 1 || penKey !== key) path.moveTo(...map.screen(tr.dlat[j - 1], tr.dlng[j - 1]));
          path.lineTo(...map.screen(tr.dlat[j], tr.dlng[j]));
          pen = j;
          penKey = key;
        }
      });
      return out;
    }

    stroke(ctx, paths) {
      ctx.save();
      ctx.lineWidth = 3;
      ctx.lineJoin = "round";
      ctx.lineCap = "round"; // stretches added frame by frame join without notches
      for (const key in paths) {
        ctx.strokeStyle = key === "gap" ? GAP_COLOUR : COLOURS[key] || COLOURS.empty;
        ctx.setLineDash(key === "gap" ? [5, 5] : []);
        ctx.stroke(paths[key]);
      }
      ctx.restore();
    }

    drawStops(map, ctx, s) {
      const t = s.playhead;
      const count = L.firedCount(s.stopTs, t);
      const labels = map.zoom >= 13 || count <= 50;
      ctx.font = "11px sans-serif";
      for (let i = 0; i < count; i++) {
        const stop = s.stops[i];
        const [x, y] = map.screen(...map.toDisplay(stop.lat, stop.lng));
        if (x < -40 || y < -40 || x > map.width + 40 || y > map.height + 40) continue;
        ctx.beginPath();
        ctx.arc(x, y, 6, 0, 2 * Math.PI);
        ctx.strokeStyle = STOP_COLOUR;
        ctx.lineWidth = 2;
        ctx.stroke();
        if (labels) {
          ctx.fillStyle = "#f5f3ff";
          ctx.fillText(`${this.t("replay_stop")} ${this.duration(L.stopSeconds(stop, t))}`, x + 8, y + 4);
        }
      }
    }

    duration(seconds) {
      const m = Math.floor(seconds / 60);
      const sec = Math.round(seconds - m * 60);
      return `${m}${this.t("unit_min")}${sec ? sec + this.t("unit_s") : ""}`;
    }

    drawAlerts(map, ctx, s) {
      const count = L.firedCount(s.alertTs, s.playhead);
      ctx.font = "bold 12px sans-serif";
      for (let i = 0; i < count; i++) {
        const a = s.alerts[i];
        const [x, y] = map.screen(...map.toDisplay(a.lat, a.lng));
        ctx.beginPath();
        ctx.moveTo(x, y - 9);
        ctx.lineTo(x + 8, y + 6);
        ctx.lineTo(x - 8, y + 6);
        ctx.closePath();
        ctx.fillStyle = COLOURS.violating;
        ctx.fill();
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 1;
        ctx.stroke();
        ctx.fillStyle = "#fecaca";
        ctx.fillText(this.t(a.type), x + 10, y - 4);
      }
    }

    drawMarkers(map, ctx, s) {
      const named = s.vehicles.length <= 20 || map.zoom >= 14;
      ctx.font = "bold 12px sans-serif";
      for (const m of markersAt(s)) {
        const [x, y] = map.screen(m.dlat, m.dlng);
        ctx.globalAlpha = m.held ? 0.55 : 1;
        ctx.beginPath();
        ctx.arc(x, y, 7, 0, 2 * Math.PI);
        ctx.fillStyle = COLOURS[m.state] || COLOURS.empty;
        ctx.fill();
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 2;
        ctx.stroke();
        if (named) {
          ctx.fillStyle = "#e0f2fe";
          ctx.fillText(m.vehicle, x + 10, y + 4);
        }
        ctx.globalAlpha = 1;
      }
    }
  }

  root.LandunReplayDraw = { Painter, markersAt, COLOURS };
})(window);
