/* WGS-84 -> GCJ-02 forward transform for drawing on GCJ-02 basemaps (shared/DATUMS.md facts:
 * Krasovsky a = 6378245.0, ee = 0.00669342162296594323, identity outside China's box).
 * The system keeps WGS-84; only the display converts. */
(function (root) {
  "use strict";
  const A = 6378245.0;
  const EE = 0.00669342162296594323;
  const PI = Math.PI;

  function outOfChina(lat, lng) {
    return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function shiftLat(x, y) {
    let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    r += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
    r += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
    return r;
  }

  function shiftLng(x, y) {
    let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    r += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
    r += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
    return r;
  }

  /** WGS-84 (lat, lng) -> GCJ-02 [lat, lng]. */
  function wgs84ToGcj02(lat, lng) {
    if (outOfChina(lat, lng)) return [lat, lng];
    let dLat = shiftLat(lng - 105.0, lat - 35.0);
    let dLng = shiftLng(lng - 105.0, lat - 35.0);
    const radLat = (lat / 180.0) * PI;
    let magic = Math.sin(radLat);
    magic = 1 - EE * magic * magic;
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * PI);
    dLng = (dLng * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * PI);
    return [lat + dLat, lng + dLng];
  }

  /** GCJ-02 -> WGS-84 by fixed-point iteration (the one-step inverse is metres off). */
  function gcj02ToWgs84(lat, lng) {
    let wLat = lat;
    let wLng = lng;
    for (let i = 0; i < 5; i++) {
      const [gLat, gLng] = wgs84ToGcj02(wLat, wLng);
      wLat -= gLat - lat;
      wLng -= gLng - lng;
    }
    return [wLat, wLng];
  }

  const api = { wgs84ToGcj02, gcj02ToWgs84, outOfChina };
  root.LandunDatum = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
