/* Replay mode's canvas (issue 12, kept on MapLibre by issue 13): a transparent 2D canvas laid
 * over the map's WebGL canvas, the size of the map, letting every pointer event through to the
 * map. While a replay layer is set, map.js redraws it on each frame the map renders and each time
 * replay.js asks (map.draw), through the map's projection (screen, origin, zoom). */
(function (root) {
  "use strict";
  const doc = root.document;

  class Overlay {
    /** ``map``: the LiveMap (its container, width, height, screen, zoom, replayLayer). */
    constructor(map) {
      this.map = map;
      this.canvas = doc.createElement("canvas");
      this.canvas.className = "map-overlay";
      const style = this.canvas.style; // CSSOM: allowed by the page's CSP
      style.position = "absolute";
      style.pointerEvents = "none";
      map.container.insertAdjacentElement("afterend", this.canvas);
      this.ctx = this.canvas.getContext("2d");
      this.blank = false;
      this.resize();
    }

    resize() {
      const ratio = root.devicePixelRatio || 1;
      const { map, canvas } = this;
      canvas.width = Math.round(map.width * ratio);
      canvas.height = Math.round(map.height * ratio);
      canvas.style.left = `${map.container.offsetLeft}px`;
      canvas.style.top = `${map.container.offsetTop}px`;
      canvas.style.width = `${map.width}px`;
      canvas.style.height = `${map.height}px`;
      this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      this.blank = false;
      this.render();
    }

    clear() {
      const ctx = this.ctx;
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.restore();
    }

    /** Draw the replay layer (or leave the canvas empty without one). */
    render() {
      const map = this.map;
      if (!map.replayLayer) {
        if (!this.blank) this.clear();
        this.blank = true;
        return;
      }
      map.readView();
      this.clear();
      this.blank = false;
      map.replayLayer.draw(map, this.ctx);
    }

    /** Fence shapes (LiveMap.fenceShapes) in their kind's colour, names when zoomed in. */
    drawFences(fences) {
      const { ctx, map } = this;
      const colours = root.LandunMap.FENCE_COLOURS;
      for (const f of fences) {
        const colour = colours[f.kind] || "#e5e7eb";
        const hot = f.id === map.highlightFence;
        ctx.beginPath();
        for (const ring of f.rings) {
          ring.forEach(([lat, lng], i) => {
            const [x, y] = map.screen(lat, lng);
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
        if (map.zoom >= (f.kind === "producer" ? 15 : 14) && f.rings.length) {
          const [x, y] = map.screen(...f.rings[0][0]);
          ctx.fillStyle = "#e2e8f0";
          ctx.font = "11px sans-serif";
          ctx.fillText(f.name, x + 3, y - 3);
        }
      }
    }
  }

  root.LandunMapOverlay = { Overlay };
})(window);
