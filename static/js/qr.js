// A QR code as an inline SVG element, drawn with the DOM (never innerHTML):
// the vendored uqr encoder gives the module matrix, one <path> draws it.

import { encode } from "../vendor/uqr-0.1.3.mjs";

const SVG = "http://www.w3.org/2000/svg";

export function qrSvg(text, { label = "" } = {}) {
  // Medium error correction survives a smudged thermal print; a 4-module quiet zone is the standard's.
  const { size, data } = encode(text, { ecc: "M", border: 4 });
  let d = "";
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  if (label) svg.setAttribute("aria-label", label);
  svg.dataset.qr = text; // what it encodes, for tests and for people who inspect it
  const bg = document.createElementNS(SVG, "rect");
  bg.setAttribute("width", size);
  bg.setAttribute("height", size);
  bg.setAttribute("fill", "#fff");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(bg, path);
  return svg;
}
