/* The critical-alert tone (issue 13): two short beeps synthesised with WebAudio (no audio file),
 * muted by a toggle kept in localStorage. ``played`` counts tones for the browser test. */
(function (root) {
  "use strict";
  const KEY = "landun.mute";
  let context = null;
  let played = 0;

  function muted() {
    return root.localStorage.getItem(KEY) === "1";
  }

  function setMuted(value) {
    root.localStorage.setItem(KEY, value ? "1" : "0");
  }

  function audio() {
    const Ctor = root.AudioContext || root.webkitAudioContext;
    if (!Ctor) return null;
    if (context === null) context = new Ctor();
    if (context.state === "suspended") context.resume().catch(() => {});
    return context;
  }

  const GAP_MS = 2000; // a burst of critical alerts (a batch) sounds once, not once each
  let last = -Infinity;

  /** Two 880 Hz beeps of 0.18 s; nothing when muted or just sounded. True when a tone was
   * scheduled. */
  function alarm() {
    if (muted()) return false;
    const now = root.performance.now();
    if (now - last < GAP_MS) return false;
    const ctx = audio();
    if (!ctx) return false;
    last = now;
    [0, 0.3].forEach((start) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      const at = ctx.currentTime + start;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.2);
    });
    played += 1;
    return true;
  }

  /** Called from a user gesture (the login click) so the browser lets the context start. */
  function unlock() {
    try { audio(); } catch (err) { /* no audio device: the pop-up still shows */ }
  }

  root.LandunSound = { alarm, muted, setMuted, unlock, get played() { return played; } };
})(window);
