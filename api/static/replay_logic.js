/* Replay mode's pure logic (issue 12): the playback clock, positions between fixes, the chunk
 * plan that keeps fetching ahead of the playhead, the alert evidence window and Beijing time.
 * No DOM, no fetch: replay.js drives it and tests/api/test_replay_logic.py runs it under node. */
(function (root) {
  "use strict";
  const MINUTE = 60000;
  const BEIJING_MS = 8 * 3600000; // UTC+8 all year (China has no daylight saving)
  // replay.window: 30 min before the alert (its earliest evidence ping) to 10 min after, <= 1 day
  const BEFORE_MS = 30 * MINUTE;
  const AFTER_MS = 10 * MINUTE;
  const LONGEST_MS = 24 * 3600000;
  // Fixes further apart than this are a signal gap: the marker waits at the earlier fix and the
  // track is drawn dashed, never as a straight drive nobody saw (a dark truck may be dumping).
  // Parked terminals report every few minutes; 5 min keeps those interpolated (same position).
  const GAP_MS = 5 * MINUTE;
  const SPEEDS = [1, 10, 100, 1000];

  /** Epoch ms of an ISO 8601 time with an offset, or of epoch ms given as a number. */
  function parseIso(value) {
    if (typeof value === "number") return value;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new Error(`not a time: ${value}`);
    return ms;
  }

  function pad(n, width = 2) {
    return String(n).padStart(width, "0");
  }

  /** "YYYY-MM-DD HH:MM:SS" in Beijing time (the caller labels it). */
  function beijing(ms) {
    const d = new Date(ms + BEIJING_MS);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  }

  /** The value of an <input type="datetime-local"> that shows ``ms`` in Beijing time. */
  function beijingInput(ms) {
    return beijing(ms).replace(" ", "T");
  }

  /** Epoch ms of a datetime-local value ("YYYY-MM-DDTHH:MM[:SS]") read as Beijing time. */
  function parseBeijing(value) {
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(String(value || ""));
    if (!m) throw new Error(`not a Beijing time: ${value}`);
    const [y, mo, d, h, mi, s] = m.slice(1).map((v) => Number(v || 0));
    return Date.UTC(y, mo - 1, d, h, mi, s) - BEIJING_MS;
  }

  /** [from_ms, to_ms]: the evidence window of an alert, as replay.window.alert_window. */
  function alertWindow(alert) {
    const times = [parseIso(alert.ts)];
    if (alert.ended_ts !== null && alert.ended_ts !== undefined) times.push(parseIso(alert.ended_ts));
    const pings = (alert.evidence && alert.evidence.pings) || [];
    for (const p of pings) if (p && p.ts !== null && p.ts !== undefined) times.push(parseIso(p.ts));
    const start = Math.min(...times) - BEFORE_MS;
    const end = Math.max(...times) + AFTER_MS;
    return [Math.max(start, end - LONGEST_MS), end];
  }

  /** Index of the first element of the sorted ``values`` greater than ``x``. */
  function upper(values, x, n = values.length) {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The points of one Track JSON page's track Feature: {t, lat, lng, state} arrays. */
  function pagePoints(feature) {
    const coords = feature.geometry.coordinates;
    const p = feature.properties;
    return {
      t: p.datetimes.map(parseIso),
      lat: coords.map((c) => c[1]),
      lng: coords.map((c) => c[0]),
      state: p.state || coords.map(() => "empty"),
    };
  }

  /** One time-ordered track from the chunks loaded so far (Map chunk index -> page points);
   * ``display`` maps WGS-84 (lat, lng) to the map's datum. */
  function mergeTrack(chunks, display = (lat, lng) => [lat, lng]) {
    const keys = [...chunks.keys()].sort((a, b) => a - b);
    const n = keys.reduce((sum, k) => sum + chunks.get(k).t.length, 0);
    const track = { n, t: new Float64Array(n), lat: new Float64Array(n), lng: new Float64Array(n),
      dlat: new Float64Array(n), dlng: new Float64Array(n), state: new Array(n) };
    let i = 0;
    for (const k of keys) {
      const c = chunks.get(k);
      for (let j = 0; j < c.t.length; j++, i++) {
        track.t[i] = c.t[j];
        track.lat[i] = c.lat[j];
        track.lng[i] = c.lng[j];
        [track.dlat[i], track.dlng[i]] = display(c.lat[j], c.lng[j]);
        track.state[i] = c.state[j];
      }
    }
    return track;
  }

  /** Where the vehicle was at ``t``: linear in time between its fixes (WGS-84 and display
   * datum), the state of the fix before; waits at a fix across a gap and after the last one;
   * null before its first fix. ``index`` is that fix's, ``held`` true when waiting. */
  function positionAt(track, t) {
    const n = track.n;
    if (!n || t < track.t[0]) return null;
    const i = upper(track.t, t, n) - 1;
    const t0 = track.t[i];
    const j = i + 1;
    if (j >= n || track.t[j] - t0 > GAP_MS || t === t0) {
      return { lat: track.lat[i], lng: track.lng[i], dlat: track.dlat[i], dlng: track.dlng[i],
        state: track.state[i], index: i, held: t > t0 };
    }
    const f = (t - t0) / (track.t[j] - t0);
    return {
      lat: track.lat[i] + f * (track.lat[j] - track.lat[i]),
      lng: track.lng[i] + f * (track.lng[j] - track.lng[i]),
      dlat: track.dlat[i] + f * (track.dlat[j] - track.dlat[i]),
      dlng: track.dlng[i] + f * (track.dlng[j] - track.dlng[i]),
      state: track.state[i], index: i, held: false,
    };
  }

  /** The chunks a replay fetches: ``[from, to]`` cut into ``chunkMs`` of data time. Chunk k
   * covers [from + k*chunkMs, from + (k+1)*chunkMs - 1], the last one up to ``to`` included
   * (inclusive windows that do not overlap, so a fix or overlay on a boundary is fetched once). */
  function chunkPlan(from, to, chunkMs) {
    const size = Math.max(1, Math.min(chunkMs, to - from + 1));
    return { from, to, chunkMs: size, count: Math.max(1, Math.ceil((to - from) / size)) };
  }

  function chunkSpan(plan, k) {
    const start = plan.from + k * plan.chunkMs;
    return [start, k >= plan.count - 1 ? plan.to : start + plan.chunkMs - 1];
  }

  function chunkOf(plan, t) {
    return Math.max(0, Math.min(plan.count - 1, Math.floor((t - plan.from) / plan.chunkMs)));
  }

  /** The end of the data loaded without a hole from the playhead's chunk on (the playhead may
   * go up to it); the playhead itself when its chunk is not loaded yet. */
  function bufferedUntil(plan, loaded, t) {
    let k = chunkOf(plan, t);
    if (!loaded.has(k)) return Math.min(t, plan.to);
    while (k + 1 < plan.count && loaded.has(k + 1)) k += 1;
    return chunkSpan(plan, k)[1];
  }

  /** The chunk indices to fetch, most urgent first, except those loaded or being fetched: from
   * the playhead's chunk to the one that holds ``t + aheadMs``, then those behind the playhead,
   * nearest first (after a seek forward, the track so far and the alerts already fired). */
  function wantedChunks(plan, loaded, pending, t, aheadMs) {
    const out = [];
    const first = chunkOf(plan, t);
    const last = chunkOf(plan, t + aheadMs);
    const want = (k) => { if (!loaded.has(k) && !pending.has(k)) out.push(k); };
    for (let k = first; k <= last; k++) want(k);
    for (let k = first - 1; k >= 0; k--) want(k);
    return out;
  }

  /** Sort key of a chunk's fetch: the order :func:`wantedChunks` gives, for the playhead at
   * chunk ``first`` (queued fetches are re-ordered when the playhead moves). */
  function urgency(k, first) {
    return k >= first ? k - first : 1e9 + first - k;
  }

  /** How many of the ``ts``-sorted items had happened by ``t`` (the alerts to show). */
  function firedCount(sortedTs, t) {
    return upper(sortedTs, t);
  }

  /** Seconds a stop has lasted at ``t`` (null before it began): elapsed while it goes on, its
   * reported duration once it ended. */
  function stopSeconds(stop, t) {
    if (t < stop.ts) return null;
    if (stop.ended_ts === null || stop.ended_ts === undefined || t < stop.ended_ts) {
      return Math.floor((t - stop.ts) / 1000);
    }
    return stop.duration_s;
  }

  /** The playback clock: data time advancing ``speed`` times wall time while playing. */
  class Clock {
    constructor(from, to) {
      this.from = from;
      this.to = to;
      this.base = from;
      this.wall = 0;
      this.speed = 1;
      this.playing = false;
    }

    at(now) {
      if (!this.playing) return this.base;
      return Math.min(this.to, this.base + (now - this.wall) * this.speed);
    }

    play(now) {
      if (this.base >= this.to) this.base = this.from;
      this.wall = now;
      this.playing = true;
    }

    pause(now) {
      this.base = this.at(now);
      this.playing = false;
    }

    /** Jump to ``t`` (clamped to the range), playing on from there if playing. */
    seek(t, now) {
      this.base = Math.max(this.from, Math.min(this.to, t));
      this.wall = now;
    }

    setSpeed(speed, now) {
      this.base = this.at(now);
      this.wall = now;
      this.speed = speed;
    }
  }

  const api = {
    BEFORE_MS, AFTER_MS, LONGEST_MS, GAP_MS, SPEEDS, BEIJING_MS,
    parseIso, beijing, beijingInput, parseBeijing, alertWindow, upper, pagePoints, mergeTrack,
    positionAt, chunkPlan, chunkSpan, chunkOf, bufferedUntil, wantedChunks, urgency, firedCount,
    stopSeconds, Clock,
  };
  root.LandunReplayLogic = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
