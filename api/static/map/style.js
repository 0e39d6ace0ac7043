/* The live map's MapLibre style (issue 13): the basemap (vector roads, raster tiles or none on a
 * plain background), fences by kind, the selected vehicle's track, alert rings by severity and
 * the vehicles (clusters at city scale, dots, then icons by kind rotated by heading and coloured
 * by state, plates from zoom 14). No glyph server: MapLibre draws the few labels' glyphs itself
 * with the page's fonts (it does so for every glyph when the style names no glyphs URL). */
(function (root) {
  "use strict";
  const FONT = ["sans-serif"];
  const CLUSTER_MAX_ZOOM = 11; // clusters up to city scale; single vehicles from zoom 12
  const ICON_ZOOM = 13; // kind icons from here (dots before)
  const PLATE_ZOOM = 14; // plate labels from here
  const LAYERS = {
    roads: ["roads", "roads-arterial"],
    vehicles: ["vehicle-dots", "vehicle-icons"],
    clusters: "vehicle-clusters",
    live: ["fence-fill", "fence-line", "fence-hot-fill", "fence-hot-line", "fence-labels", "fence-labels-producer", "track", "alert-rings",
      "vehicle-clusters", "vehicle-cluster-count", "vehicle-dots", "vehicle-icons", "vehicle-plates", "vehicle-selected"],
  };
  const EMPTY = { type: "FeatureCollection", features: [] };

  function match(property, table, fallback) {
    return ["match", ["get", property], ...Object.entries(table).flat(), fallback];
  }

  function basemapLayers(basemap, sources) {
    if (basemap.kind === "raster") {
      // {-y}: rows counted from the south (TMS, as Tencent's tiles are), which MapLibre calls
      // the "tms" scheme and writes {y} (docs/map.md).
      const tms = basemap.tiles.some((url) => url.includes("{-y}"));
      sources.basemap = { type: "raster", tiles: basemap.tiles.map((url) => url.replace("{-y}", "{y}")),
        scheme: tms ? "tms" : "xyz", tileSize: 256, maxzoom: 18, attribution: basemap.attribution || "" };
      return [{ id: "basemap-raster", type: "raster", source: "basemap" }];
    }
    if (basemap.kind !== "vector") return [];
    sources.basemap = { type: "geojson", data: EMPTY };
    const width = (base) => ["interpolate", ["exponential", 1.6], ["zoom"], 9, base * 0.5, 13, base * 1.5, 17, base * 6];
    return [
      { id: "roads", type: "line", source: "basemap", filter: ["!=", ["get", "class"], "arterial"],
        layout: { "line-join": "round", "line-cap": "round" },
        paint: { "line-color": "#23395b", "line-width": width(1.2) } },
      { id: "roads-arterial", type: "line", source: "basemap", filter: ["==", ["get", "class"], "arterial"],
        layout: { "line-join": "round", "line-cap": "round" },
        paint: { "line-color": "#3a5a85", "line-width": width(2) } },
    ];
  }

  /** The style for ``basemap`` (map-config's basemap) and the colour tables of map.js. */
  function build(basemap, colours) {
    const { STATE_COLOURS, FENCE_COLOURS, SEVERITY_COLOURS } = colours;
    const sources = {
      fences: { type: "geojson", data: EMPTY },
      track: { type: "geojson", data: EMPTY },
      alerts: { type: "geojson", data: EMPTY },
      vehicles: { type: "geojson", data: EMPTY, cluster: true, clusterMaxZoom: CLUSTER_MAX_ZOOM, clusterRadius: 45,
        clusterProperties: { violation: ["+", ["case", ["==", ["get", "state"], "violation"], 1, 0]] } },
    };
    const fenceColour = match("kind", FENCE_COLOURS, "#e5e7eb");
    const single = ["!", ["has", "point_count"]];
    const layers = [
      { id: "background", type: "background", paint: { "background-color": "#0b1526" } },
      ...basemapLayers(basemap, sources),
      { id: "fence-fill", type: "fill", source: "fences",
        paint: { "fill-color": fenceColour, "fill-opacity": ["case", ["==", ["get", "kind"], "corridor"], 0.12, 0.2] } },
      { id: "fence-line", type: "line", source: "fences", paint: { "line-color": fenceColour, "line-width": 1 } },
      // the fence of the selected alert (map.js sets the filter to its id)
      { id: "fence-hot-fill", type: "fill", source: "fences", filter: ["==", ["get", "fid"], ""],
        paint: { "fill-color": fenceColour, "fill-opacity": 0.45 } },
      { id: "fence-hot-line", type: "line", source: "fences", filter: ["==", ["get", "fid"], ""],
        paint: { "line-color": "#ffffff", "line-width": 3 } },
      { id: "fence-labels", type: "symbol", source: "fences", minzoom: 15, filter: ["!=", ["get", "kind"], "producer"],
        layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 11 },
        paint: { "text-color": "#e2e8f0", "text-halo-color": "#0b1526", "text-halo-width": 1 } },
      { id: "fence-labels-producer", type: "symbol", source: "fences", minzoom: 16, filter: ["==", ["get", "kind"], "producer"],
        layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 11 },
        paint: { "text-color": "#e2e8f0", "text-halo-color": "#0b1526", "text-halo-width": 1 } },
      { id: "track", type: "line", source: "track", layout: { "line-join": "round" },
        paint: { "line-color": "#fde047", "line-width": 3, "line-dasharray": [2, 1.3] } },
      { id: "alert-rings", type: "circle", source: "alerts",
        paint: { "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 7, 15, 14], "circle-opacity": 0,
          "circle-stroke-width": 3, "circle-stroke-color": match("severity", SEVERITY_COLOURS, "#eab308") } },
      { id: "vehicle-clusters", type: "circle", source: "vehicles", filter: ["has", "point_count"],
        paint: { "circle-color": ["case", [">", ["get", "violation"], 0], "#b91c1c", "#0e7490"], "circle-opacity": 0.85,
          "circle-radius": ["step", ["get", "point_count"], 11, 20, 15, 100, 19, 500, 24, 2000, 30],
          "circle-stroke-color": "#e0f2fe", "circle-stroke-width": 1 } },
      { id: "vehicle-cluster-count", type: "symbol", source: "vehicles", filter: ["has", "point_count"],
        layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": FONT, "text-size": 11,
          "text-allow-overlap": true },
        paint: { "text-color": "#ffffff" } },
      { id: "vehicle-dots", type: "circle", source: "vehicles", maxzoom: ICON_ZOOM, filter: single,
        paint: { "circle-color": match("state", STATE_COLOURS, STATE_COLOURS.idle),
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 9, 2.5, 12.9, 4],
          "circle-stroke-color": "#0b1526", "circle-stroke-width": 0.5 } },
      { id: "vehicle-icons", type: "symbol", source: "vehicles", minzoom: ICON_ZOOM, filter: single,
        layout: { "icon-image": ["concat", ["get", "kind"], "-", ["get", "state"]],
          "icon-rotate": ["get", "heading"], "icon-rotation-alignment": "map",
          "icon-allow-overlap": true, "icon-ignore-placement": true,
          "icon-size": ["interpolate", ["linear"], ["zoom"], ICON_ZOOM, 0.8, 17, 1.3] } },
      { id: "vehicle-plates", type: "symbol", source: "vehicles", minzoom: PLATE_ZOOM, filter: single,
        layout: { "text-field": ["get", "plate"], "text-font": FONT, "text-size": 11, "text-offset": [0, 1.5],
          "text-anchor": "top", "text-optional": true },
        paint: { "text-color": "#e0f2fe", "text-halo-color": "#0b1526", "text-halo-width": 1.2 } },
      { id: "vehicle-selected", type: "circle", source: "vehicles", filter: ["==", ["get", "id"], ""],
        paint: { "circle-radius": 14, "circle-opacity": 0, "circle-stroke-width": 2.5, "circle-stroke-color": "#ffffff" } },
    ];
    return { version: 8, sources, layers };
  }

  root.LandunMapStyle = { build, LAYERS, CLUSTER_MAX_ZOOM, ICON_ZOOM, PLATE_ZOOM };
})(window);
