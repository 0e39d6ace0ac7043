/* Web Mercator as the live map draws it (issue 13): MapLibre's 512 px tiles, its zoom levels,
 * no rotation or pitch. The map's `screen`, `origin` and `bboxWgs` (map.js) and replay mode
 * (replay.js, replay_draw.js) project with these, so what replay draws on its overlay canvas
 * lands where MapLibre draws the same point. Loaded in the page and by node. */
(function (root) {
  "use strict";
  const TILE = 512;

  /** World pixel [x, y] of a point at ``zoom`` (fractional zooms too). */
  function worldPixel(lat, lng, zoom) {
    const size = TILE * Math.pow(2, zoom);
    const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    return [((lng + 180) / 360) * size, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size];
  }

  /** The point [lat, lng] at world pixel (x, y) at ``zoom``. */
  function worldToLatLng(x, y, zoom) {
    const size = TILE * Math.pow(2, zoom);
    const n = Math.PI - (2 * Math.PI * y) / size;
    return [(180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n))), (x / size) * 360 - 180];
  }

  /** The corners of a ``width`` x ``height`` view centred on ``center`` [lat, lng] at ``zoom``,
   * ``pad`` of the view beyond each edge: [[north, west], [south, east]]. */
  function corners(center, zoom, width, height, pad) {
    const [cx, cy] = worldPixel(center[0], center[1], zoom);
    const w = width * (0.5 + pad);
    const h = height * (0.5 + pad);
    return [worldToLatLng(cx - w, cy - h, zoom), worldToLatLng(cx + w, cy + h, zoom)];
  }

  const api = { TILE, worldPixel, worldToLatLng, corners };
  root.LandunMapProjection = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
