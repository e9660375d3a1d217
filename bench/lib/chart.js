// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The benchmark's chart: one panel per case (the cases differ by three orders of magnitude, so
// each gets its own scale), one horizontal bar per server in a fixed colour, the median labelled
// and the spread drawn as a thin line. Plain SVG, no dependency: GitHub and any browser show it.

const COLOURS = ['#1f77b4', '#aec7e8', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd', '#8c564b', '#7f7f7f', '#bcbd22'];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}

/**
 * summary: [{ name, perServer: [{ server, msgsPerS, minMsgsPerS, maxMsgsPerS }] }] (report.js);
 * servers: the server names in legend order. Returns an SVG document.
 */
function renderSvg(summary, servers, title) {
  const W = 760;
  const labelW = 170;
  const barH = 16;
  const gap = 4;
  const panelPad = 34;
  const plotW = W - labelW - 90;
  const colour = Object.fromEntries(servers.map((s, i) => [s, COLOURS[i % COLOURS.length]]));
  const out = [];
  // Legend, wrapped onto as many rows as the names need.
  let lx = 10;
  let ly = 32;
  const legend = servers.map((s) => {
    const w = 24 + s.length * 7;
    if (lx > 10 && lx + w > W - 10) {
      lx = 10;
      ly += 18;
    }
    const g = `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colour[s]}"/><text x="${lx + 16}" y="${ly + 10}" font-size="12">${esc(s)}</text>`;
    lx += w;
    return g;
  });
  let y = ly + 24;
  for (const c of summary) {
    const rows = servers.map((s) => c.perServer.find((p) => p.server === s)).filter(Boolean);
    const max = Math.max(1, ...rows.map((p) => p.maxMsgsPerS ?? p.msgsPerS ?? 0));
    out.push(`<text x="10" y="${y + 14}" font-size="13" font-weight="bold">${esc(c.name)}</text>`);
    y += 22;
    for (const p of rows) {
      const v = p.msgsPerS;
      out.push(`<text x="${labelW - 6}" y="${y + barH - 4}" font-size="11" text-anchor="end">${esc(p.server)}</text>`);
      if (v === null || v === undefined) {
        out.push(`<text x="${labelW + 4}" y="${y + barH - 4}" font-size="11" fill="#888">invalid</text>`);
      } else {
        const w = Math.max(1, (v / max) * plotW);
        out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colour[p.server]}"/>`);
        if (p.minMsgsPerS !== null && p.maxMsgsPerS !== null && p.maxMsgsPerS > p.minMsgsPerS) {
          const x0 = labelW + (p.minMsgsPerS / max) * plotW;
          const x1 = labelW + (p.maxMsgsPerS / max) * plotW;
          out.push(`<line x1="${x0.toFixed(1)}" x2="${x1.toFixed(1)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#222" stroke-width="1"/>`);
        }
        out.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 4}" font-size="11">${fmt(v)}</text>`);
      }
      y += barH + gap;
    }
    y += panelPad - 22;
  }
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...legend,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { renderSvg };
