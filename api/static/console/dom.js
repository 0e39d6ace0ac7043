/* The console's one DOM builder (issue 13): every server string goes into the page as text
 * (a text node), never as HTML; event handlers as on* keys; no inline style (the page's CSP). */
(function (root) {
  "use strict";
  const doc = root.document;

  /** ``el("li", {class: "x", "data-id": id, onclick: fn}, child, "text", [more])``. */
  function el(tag, attrs, ...children) {
    const node = doc.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === undefined || v === null || v === false) return;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    children.flat(Infinity).forEach((c) => {
      if (c === undefined || c === null || c === false) return;
      node.append(c instanceof root.Node ? c : doc.createTextNode(String(c)));
    });
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { root.clearTimeout(timer); timer = root.setTimeout(() => fn(...args), ms); };
  }

  root.LandunDom = { el, debounce };
})(window);
