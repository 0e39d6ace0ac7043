/* The vehicle icons of the live map (issue 13), drawn on a canvas when the map starts (no image
 * files): one per kind and state, named `${kind}-${state}`, seen from above and pointing north so
 * the map can rotate them by heading. Muck truck (渣土车): a square tipper body behind a cab;
 * kitchen-waste vehicle (餐厨车): a rounded tank with a band; waste-oil vehicle (油脂车): a drop.
 * The body takes the state's colour; a white nose shows which way the vehicle faces. */
(function (root) {
  "use strict";
  const SIZE = 24; // CSS pixels of an icon
  const RATIO = 2; // drawn at twice the size: crisp on high-density screens
  const OUTLINE = "#0b1526";

  function body(ctx, kind) {
    ctx.beginPath();
    if (kind === "kitchen") {
      ctx.ellipse(12, 14.5, 5.5, 7.5, 0, 0, 2 * Math.PI);
    } else if (kind === "oil") {
      ctx.moveTo(12, 5);
      ctx.bezierCurveTo(16, 10, 18.5, 13.5, 18.5, 16);
      ctx.arc(12, 16, 6.5, 0, Math.PI);
      ctx.bezierCurveTo(5.5, 13.5, 8, 10, 12, 5);
    } else {
      ctx.rect(6, 9, 12, 13);
    }
    ctx.closePath();
  }

  /** One icon as ImageData (SIZE x SIZE at RATIO). */
  function draw(kind, colour) {
    const canvas = root.document.createElement("canvas");
    canvas.width = canvas.height = SIZE * RATIO;
    const ctx = canvas.getContext("2d");
    ctx.scale(RATIO, RATIO);
    ctx.lineJoin = "round";
    body(ctx, kind);
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.lineWidth = 1.6;
    ctx.strokeStyle = OUTLINE;
    ctx.stroke();
    if (kind === "kitchen") { // the tank's band
      ctx.fillStyle = OUTLINE;
      ctx.fillRect(6.5, 14, 11, 1.6);
    }
    if (kind === "muck") { // the cab in front of the tipper body
      ctx.beginPath();
      ctx.rect(8, 4, 8, 4.5);
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.stroke();
    }
    ctx.beginPath(); // the nose: which way it faces
    ctx.moveTo(12, 0.8);
    ctx.lineTo(15, 4.2);
    ctx.lineTo(9, 4.2);
    ctx.closePath();
    ctx.fillStyle = "#ffffff";
    ctx.fill();
    ctx.lineWidth = 0.8;
    ctx.stroke();
    return ctx.getImageData(0, 0, canvas.width, canvas.height);
  }

  /** Add every kind x state icon to a MapLibre ``map``; ``colours``: state -> CSS colour. */
  function addIcons(map, kinds, colours) {
    for (const kind of kinds) {
      for (const [state, colour] of Object.entries(colours)) {
        const name = `${kind}-${state}`;
        if (!map.hasImage(name)) map.addImage(name, draw(kind, colour), { pixelRatio: RATIO });
      }
    }
  }

  root.LandunMapIcons = { addIcons, draw, SIZE };
})(window);
