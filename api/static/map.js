/* The live map (issue 13): MapLibre GL JS (WebGL) under the supervision centre's page. The
 * basemap, fences, track, alert rings and vehicles are MapLibre layers (map/style.js); the
 * vehicles live in map/vehicles.js and reach the map's one vehicle source at most once per
 * animation frame, never per message. Replay mode (replay.js, replay_draw.js) draws on a
 * transparent 2D canvas over the map through `screen`, `toDisplay`, `drawFences` and `draw`,
 * redrawn on every frame the map renders (map/overlay.js).
 * Coordinates arrive in WGS-84; on GCJ-02 raster tiles each is shifted to GCJ-02 once, on
 * arrival (datum.js). Zoom levels are MapLibre's (512 px tiles). */
(function (root) {
  "use strict";
  const LIBRARY = "/static/vendor/maplibre-gl/maplibre-gl.mjs"; // make web-vendor; never a CDN
  const { TILE, worldPixel, worldToLatLng, corners } = root.LandunMapProjection;
  const STATE_COLOURS = { on_trip: "#38bdf8", loaded: "#f59e0b", idle: "#94a3b8", offline: "#4b5563", violation: "#ef4444" };
  const FENCE_COLOURS = { site: "#facc15", transfer: "#2dd4bf", terminal: "#22c55e", producer: "#c084fc",
    plant: "#a855f7", restricted: "#f43f5e", depot: "#9ca3af", corridor: "#3b82f6" };
  const SEVERITY_COLOURS = { critical: "#dc2626", high: "#f97316", medium: "#eab308" };
  const FRAME_WINDOW = 100; // frameStats() covers this many frames
  const PICK_PX = 10; // a click this close to a vehicle picks it
  const VIEW_PAD = 0.5; // street scale: vehicles within half a view beyond each edge are sent
  const Style = () => root.LandunMapStyle;
  let library = null;

  function collection(features) {
    return { type: "FeatureCollection", features };
  }

  class LiveMap {
    /** ``container``: the map's <div>; ``options``: basemap (map-config's), center [lat, lng]
     * (WGS-84), zoom, api (the page's authenticated JSON fetch, for the vector basemap),
     * onViewChange(bbox, zoom), onVehicleClick(id); tileUrl/tileDatum for an older config. */
    constructor(container, options = {}) {
      this.container = container;
      this.basemap = options.basemap || (options.tileUrl
        ? { kind: "raster", tiles: [options.tileUrl], datum: options.tileDatum || "gcj02", attribution: "" } : { kind: "none" });
      this.gcj = this.basemap.kind === "raster" && this.basemap.datum === "gcj02";
      this.api = options.api || ((url) => root.fetch(url).then((r) => r.json()));
      this.store = new root.LandunMapVehicles.VehicleStore((lat, lng) => this.toDisplay(lat, lng));
      this.vehicles = this.store.items; // id -> {lat, lng (display), state, kind, ts, raw, ...}
      this.fences = []; // the shapes drawFences takes (display datum)
      this.track = []; // [lat, lng] (display datum)
      this.replayLayer = null;
      this.map = null;
      this.dirty = true; // the vehicle source needs new data
      this.sent = -1; // the store version the source holds
      this.frameTimes = [];
      this.handlers = { view: [], click: [] };
      if (options.onViewChange) this.handlers.view.push(options.onViewChange);
      if (options.onVehicleClick) this.handlers.click.push(options.onVehicleClick);
      this.state = { selected: null, hotFence: null, fences: collection([]), track: collection([]), alerts: collection([]) };
      this.overlay = new root.LandunMapOverlay.Overlay(this);
      this.canvas = this.overlay.canvas;
      this.ctx = this.overlay.ctx;
      this.view = { zoom: options.zoom || 11, center: this.toDisplay(...(options.center || [31.49, 120.31])) };
      this.ready = this.start();
      this.ready.catch((err) => root.console.error("map failed to start:", err));
      this.loop();
    }

    async start() {
      const lib = await (library || (library = import(LIBRARY)));
      const [lat, lng] = this.view.center; // the start view, or where focus() put it meanwhile
      const map = new lib.Map({
        container: this.container, style: Style().build(this.basemap, { STATE_COLOURS, FENCE_COLOURS, SEVERITY_COLOURS }),
        center: [lng, lat], zoom: this.view.zoom, minZoom: 3, maxZoom: 19, dragRotate: false, pitchWithRotate: false,
        touchPitch: false, attributionControl: false, fadeDuration: 0,
        refreshExpiredTiles: false, // raster tiles as <img> (the page's CSP allows images from tile hosts, not fetch)
      });
      map.touchZoomRotate.disableRotation();
      map.keyboard.disableRotation();
      await new Promise((resolve) => map.once("load", resolve));
      root.LandunMapIcons.addIcons(map, root.LandunMapVehicles.KINDS, STATE_COLOURS);
      this.map = map;
      this.readView();
      ["fences", "track", "alerts"].forEach((name) => map.getSource(name).setData(this.state[name]));
      this.applySelection();
      this.applyHotFence();
      this.applyReplayVisibility();
      map.on("move", () => { this.readView(); this.dirty = true; });
      map.on("render", () => this.overlay.render());
      map.on("resize", () => this.overlay.resize());
      map.on("moveend", () => this.onViewChange(this.bboxWgs(), this.zoom));
      map.on("click", (e) => this.click(e.point));
      if (this.basemap.kind === "vector") this.loadBasemap();
      this.overlay.resize();
      return this;
    }

    async loadBasemap() {
      try {
        const data = await this.api(this.basemap.url);
        this.map.getSource("basemap").setData(data);
      } catch (err) { root.console.warn("no basemap:", err.message); } // the map works without it
    }

    /** Each animation frame: time it (frameStats), and send the vehicles when they changed or
     * are gliding where single vehicles are drawn. */
    loop() {
      let last = null;
      const frame = (t) => {
        if (last !== null) {
          this.frameTimes.push(t - last);
          if (this.frameTimes.length > FRAME_WINDOW) this.frameTimes.shift();
        }
        last = t;
        if (this.map && !this.replayLayer) this.flush(root.performance.now()); // replay hides them
        root.requestAnimationFrame(frame);
      };
      root.requestAnimationFrame(frame);
    }

    flush(now) {
      // City scale: every vehicle, at its fix (clusters do not glide). Street scale: the vehicles
      // around the view, gliding: a frame's cost follows what is seen, not the fleet.
      const box = this.zoom > Style().CLUSTER_MAX_ZOOM ? this.displayBox(VIEW_PAD) : null;
      const glide = box !== null && this.store.gliding(now, box);
      if (!this.dirty && !glide && this.sent === this.store.version) return;
      this.dirty = false;
      this.sent = this.store.version;
      this.map.getSource("vehicles").setData(collection(this.store.features(box ? now : Infinity, box)));
    }

    /** The view, ``pad`` of it beyond each edge, as {south, west, north, east} (display datum). */
    displayBox(pad) {
      const [[north, west], [south, east]] = corners(this.view.center, this.view.zoom, this.width, this.height, pad);
      return { south, west, north, east };
    }

    /** {frames, avg_ms, p95_ms} of the last FRAME_WINDOW animation frames (deltas between them). */
    frameStats() {
      const d = this.frameTimes.slice().sort((a, b) => a - b);
      if (!d.length) return { frames: 0, avg_ms: null, p95_ms: null };
      const avg = d.reduce((a, b) => a + b, 0) / d.length;
      const p95 = d[Math.min(d.length - 1, Math.ceil(0.95 * d.length) - 1)];
      return { frames: d.length, avg_ms: Math.round(avg * 100) / 100, p95_ms: Math.round(p95 * 100) / 100 };
    }

    toDisplay(lat, lng) {
      return this.gcj ? root.LandunDatum.wgs84ToGcj02(lat, lng) : [lat, lng];
    }

    toWgs(lat, lng) {
      return this.gcj ? root.LandunDatum.gcj02ToWgs84(lat, lng) : [lat, lng];
    }

    // ---- the view ----------------------------------------------------------------------------

    readView() {
      if (!this.map) return;
      const c = this.map.getCenter();
      this.view = { zoom: this.map.getZoom(), center: [c.lat, c.lng] };
      const [cx, cy] = worldPixel(c.lat, c.lng, this.view.zoom);
      this.view.origin = [cx - this.width / 2, cy - this.height / 2];
    }

    get zoom() { return this.view.zoom; }
    set zoom(z) { this.focus(...this.toWgs(...this.center), z); }
    get center() { return this.view.center; } // display datum
    get width() { return this.container.clientWidth; }
    get height() { return this.container.clientHeight; }
    /** World pixel (at this zoom) of the view's top-left corner. */
    get origin() {
      if (!this.view.origin) {
        const [cx, cy] = worldPixel(this.view.center[0], this.view.center[1], this.view.zoom);
        return [cx - this.width / 2, cy - this.height / 2];
      }
      return this.view.origin;
    }

    /** Screen pixel (CSS, from the map's top-left) of a display-datum point. */
    screen(lat, lng) {
      const [x, y] = worldPixel(lat, lng, this.view.zoom);
      const o = this.origin;
      return [x - o[0], y - o[1]];
    }

    /** The visible area as a WGS-84 [west, south, east, north] box, ``pad`` of the view beyond
     * each edge (a little by default: the server sends what is about to scroll in). */
    bboxWgs(pad = 0.1) {
      const [nw, se] = corners(this.view.center, this.view.zoom, this.width, this.height, pad);
      const [north, west] = this.toWgs(...nw);
      const [south, east] = this.toWgs(...se);
      return [west, south, east, north].map((v) => Math.round(v * 1e6) / 1e6);
    }

    focus(lat, lng, zoom) {
      const [dlat, dlng] = this.toDisplay(lat, lng);
      const z = zoom || this.zoom;
      if (this.map) this.map.jumpTo({ center: [dlng, dlat], zoom: z });
      else this.view = { zoom: z, center: [dlat, dlng] };
    }

    /** onViewChange(fn) adds a listener; onViewChange(bbox, zoom) tells the listeners. */
    onViewChange(bbox, zoom) {
      if (typeof bbox === "function") this.handlers.view.push(bbox);
      else this.handlers.view.forEach((fn) => fn(bbox, zoom));
    }

    /** onVehicleClick(fn) adds a listener; onVehicleClick(id) tells the listeners. */
    onVehicleClick(id) {
      if (typeof id === "function") this.handlers.click.push(id);
      else this.handlers.click.forEach((fn) => fn(id));
    }

    // ---- vehicles ----------------------------------------------------------------------------

    upsertVehicle(p) {
      this.store.upsert(p, root.performance.now());
    }

    replaceVehicles(items) {
      this.store.replace(items, root.performance.now());
    }

    setVehicleMeta(list) {
      this.store.setMeta(list);
    }

    /** ``fn(vehicle) -> bool`` (map/vehicles.js `record`); hidden vehicles are neither drawn nor
     * clickable. null shows every vehicle. */
    setFilter(fn) {
      this.store.setFilter(fn);
    }

    /** Highlight vehicle ``id`` and centre the map on it (zoomed in to its plate). */
    select(id) {
      this.selected = id;
      const v = id && this.vehicles.get(id);
      if (v) this.focus(...this.toWgs(v.lat, v.lng), Math.max(this.zoom, Style().PLATE_ZOOM));
    }

    get selected() { return this.state.selected; }
    set selected(id) { this.state.selected = id || null; this.applySelection(); }

    applySelection() {
      if (this.map) this.map.setFilter("vehicle-selected", ["==", ["get", "id"], this.state.selected || ""]);
    }

    click(point) {
      const box = [[point.x - PICK_PX, point.y - PICK_PX], [point.x + PICK_PX, point.y + PICK_PX]];
      if (this.replayLayer) return;
      const hits = this.map.queryRenderedFeatures(box, { layers: Style().LAYERS.vehicles });
      let best = null;
      let bestD = Infinity;
      for (const f of hits) {
        const [lng, lat] = f.geometry.coordinates;
        const [x, y] = this.screen(lat, lng);
        const d = (x - point.x) ** 2 + (y - point.y) ** 2;
        if (d < bestD) { bestD = d; best = f.properties.id; }
      }
      if (best) { this.onVehicleClick(best); return; }
      const cluster = this.map.queryRenderedFeatures(box, { layers: [Style().LAYERS.clusters] })[0];
      if (cluster) { // zoom in to where the cluster splits
        this.map.getSource("vehicles").getClusterExpansionZoom(cluster.properties.cluster_id).then((zoom) => {
          this.map.easeTo({ center: cluster.geometry.coordinates, zoom });
        });
      }
    }

    /** ``[{id, lat, lng, severity}]`` (WGS-84) drawn as rings in the severity's colour. */
    setAlertMarkers(list) {
      this.state.alerts = collection(list.map((a) => {
        const [lat, lng] = this.toDisplay(a.lat, a.lng);
        return { type: "Feature", geometry: { type: "Point", coordinates: [lng, lat] }, properties: { id: a.id, severity: a.severity } };
      }));
      if (this.map) this.map.getSource("alerts").setData(this.state.alerts);
    }

    // ---- fences and track --------------------------------------------------------------------

    setFences(features) {
      this.fences = this.fenceShapes(features);
      this.state.fences = collection(this.fences.map((f) => ({
        type: "Feature", properties: { fid: f.id, kind: f.kind, name: f.name },
        geometry: { type: "MultiPolygon", coordinates: f.polys.map((rings) => rings.map((ring) => ring.map(([lat, lng]) => [lng, lat]))) },
      })));
      if (this.map) this.map.getSource("fences").setData(this.state.fences);
    }

    /** GeoJSON fence Features -> the shapes drawFences takes (display datum): {id, kind, name,
     * rings (every ring, [lat, lng]), polys (rings per polygon)}. */
    fenceShapes(features) {
      return features.map((f) => {
        const g = f.geometry || {};
        const source = g.type === "MultiPolygon" ? g.coordinates : g.type === "Polygon" ? [g.coordinates] : [];
        const polys = source.map((poly) => poly.map((ring) => ring.map(([lng, lat]) => this.toDisplay(lat, lng))));
        const p = f.properties || {};
        return { id: f.id, kind: p.kind, name: p.name || f.id, rings: polys.flat(), polys };
      });
    }

    get highlightFence() { return this.state.hotFence; }
    set highlightFence(id) { this.state.hotFence = id || null; this.applyHotFence(); }

    applyHotFence() {
      if (!this.map) return;
      const filter = ["==", ["get", "fid"], this.state.hotFence || ""];
      this.map.setFilter("fence-hot-fill", filter);
      this.map.setFilter("fence-hot-line", filter);
    }

    setTrack(coordinates) {
      this.track = coordinates.map(([lng, lat]) => this.toDisplay(lat, lng));
      const line = this.track.map(([lat, lng]) => [lng, lat]);
      this.state.track = collection(line.length >= 2 ? [{ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: line } }] : []);
      if (this.map) this.map.getSource("track").setData(this.state.track);
    }

    // ---- replay mode (issue 12) --------------------------------------------------------------

    /** While ``layer`` is set the live layers are hidden and each frame the overlay canvas
     * shows ``layer.draw(map, ctx)``, drawn through this map's projection and drawFences. */
    setReplayLayer(layer) {
      this.replayLayer = layer || null;
      this.applyReplayVisibility();
      this.draw();
    }

    applyReplayVisibility() {
      if (!this.map) return;
      const visibility = this.replayLayer ? "none" : "visible";
      Style().LAYERS.live.forEach((id) => this.map.setLayoutProperty(id, "visibility", visibility));
    }

    /** Redraw now: the replay overlay at once (replay.js calls this each frame the playhead
     * moves), else the live vehicles at the next frame. */
    draw() {
      if (this.replayLayer) this.overlay.render();
      else this.dirty = true;
    }

    drawFences(fences = this.fences) {
      this.overlay.drawFences(fences);
    }
  }

  root.LandunMap = { LiveMap, STATE_COLOURS, FENCE_COLOURS, SEVERITY_COLOURS, worldPixel, worldToLatLng, TILE };
})(window);
