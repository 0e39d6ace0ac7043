/* One clock for the whole page (issue 13, contract 8): every time shown in Beijing time (UTC+8,
 * whatever the browser's zone), labelled; the demo's simulated data time labelled as such.
 * The data clock is the newest position time seen (the data says what time it is in a
 * simulation; nothing is asked of the server). */
(function (root) {
  "use strict";
  const OFFSET_MS = 8 * 3600 * 1000;
  let newest = null; // newest position ts seen (epoch ms)
  let demo = false;

  function t(key) {
    return root.LandunI18n.t(key);
  }

  /** Epoch ms from epoch ms, an ISO string with offset, or null. */
  function toMs(value) {
    if (value === null || value === undefined || value === "") return null;
    if (typeof value === "number") return value;
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }

  /** ``YYYY-MM-DD HH:mm:ss`` in Beijing time, without a label. */
  function plain(value) {
    const ms = toMs(value);
    if (ms === null) return "—";
    return new Date(ms + OFFSET_MS).toISOString().slice(0, 19).replace("T", " ");
  }

  /** ``YYYY-MM-DD HH:mm:ss 北京时间`` (label in the UI language). */
  function format(value) {
    const text = plain(value);
    return text === "—" ? text : `${text} ${t("clock_bj")}`;
  }

  /** ``MM-DD HH:mm`` in Beijing time. */
  function short(value) {
    const text = plain(value);
    return text === "—" ? text : text.slice(5, 16);
  }

  /** A data time, labelled 模拟数据时间 in the demo and 北京时间 otherwise. */
  function formatData(value) {
    const text = plain(value);
    if (text === "—") return text;
    return `${text} ${t(demo ? "clock_sim" : "clock_bj")}`;
  }

  let newestText = ""; // the newest ISO ts seen: positions all carry +08:00, so the text orders

  /** Remember the newest data time (a position's ts). Called for every position (thousands a
   * second at city scale): an ISO ts not after the newest one costs a string compare. */
  function observe(value) {
    if (typeof value === "string") {
      if (value <= newestText && newestText.length === value.length) return;
      newestText = value;
    }
    const ms = toMs(value);
    if (ms !== null && (newest === null || ms > newest)) newest = ms;
  }

  /** Beijing ``YYYY-MM-DDTHH:mm`` for a datetime-local input. */
  function toInput(value) {
    const text = plain(value);
    return text === "—" ? "" : text.slice(0, 16).replace(" ", "T");
  }

  /** A datetime-local value read as Beijing time → ISO 8601 with +08:00 (null when empty). */
  function fromInput(text) {
    if (!text) return null;
    const full = text.length === 16 ? `${text}:00` : text;
    return `${full}+08:00`;
  }

  /** What the header shows: the data time in the demo (once there is data), else the wall
   * clock, both in Beijing time. */
  function header(nowMs) {
    if (demo && newest !== null) return formatData(newest);
    return format(nowMs);
  }

  root.LandunClock = {
    format, formatData, plain, short, observe, toMs, toInput, fromInput, header,
    get dataMs() { return newest; },
    get demo() { return demo; },
    set demo(value) { demo = Boolean(value); },
  };
})(window);
