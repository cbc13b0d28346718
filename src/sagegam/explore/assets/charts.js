// Canvas charts, written for this page: a curve with its band, bars with intervals, a
// heatmap, curves per level, a scatter of many points, a waterfall. Canvas rather than
// SVG because a scatter of 100,000 points is one loop of fillRect, not 100,000 nodes.

const COLOR = {
  line: "#1d5fa6", band: "rgba(29,95,166,0.20)", hist: "rgba(105,105,105,0.22)",
  grid: "#ececec", axis: "#777", text: "#333", dot: "rgba(40,40,40,0.30)",
  pos: "#c44e3b", neg: "#2f6db0", total: "#5b5b8f", offset: "#9a7d2e", ref: "#aaa",
};
const SERIES = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939"];
const FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";

function chartCanvas(parent, width, height, margin) {
  const ratio = window.devicePixelRatio || 1;
  const canvas = el("canvas", {class: "chart", width: Math.round(width * ratio),
    height: Math.round(height * ratio)});
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  parent.append(canvas);
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.font = FONT;
  const m = Object.assign({left: 58, right: 12, top: 10, bottom: 40}, margin || {});
  return {canvas, ctx, width, height, x0: m.left, x1: width - m.right, y0: m.top,
    y1: height - m.bottom};
}

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + (v - d0) / span * (r1 - r0);
  f.invert = (p) => d0 + (p - r0) / (r1 - r0) * span;
  f.domain = [d0, d1];
  return f;
}

function niceTicks(lo, hi, wanted) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const rough = span / Math.max(wanted, 1);
  const magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
  const r = rough / magnitude;
  const step = (r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1) * magnitude;
  const ticks = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) ticks.push(i * step);
  return ticks;
}

function line(ctx, xa, ya, xb, yb) {
  ctx.beginPath();
  ctx.moveTo(xa, ya);
  ctx.lineTo(xb, yb);
  ctx.stroke();
}

function drawAxes(c, xs, ys, opt) {
  const ctx = c.ctx;
  ctx.save();
  ctx.lineWidth = 1;
  ctx.fillStyle = COLOR.text;
  ctx.strokeStyle = opt.noGrid ? "rgba(0,0,0,0)" : COLOR.grid;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  if (ys) {
    for (const t of niceTicks(ys.domain[0], ys.domain[1], Math.max(2, (c.y1 - c.y0) / 45))) {
      const y = Math.round(ys(t)) + 0.5;
      line(ctx, c.x0, y, c.x1, y);
      ctx.fillText(fmt(t, 6), c.x0 - 5, y);
    }
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  if (xs) {
    for (const t of niceTicks(xs.domain[0], xs.domain[1], Math.max(2, (c.x1 - c.x0) / 75))) {
      const x = Math.round(xs(t)) + 0.5;
      line(ctx, x, c.y0, x, c.y1);
      ctx.fillText(fmt(t, 6), x, c.y1 + 5);
    }
  }
  ctx.strokeStyle = COLOR.axis;
  line(ctx, c.x0 + 0.5, c.y0, c.x0 + 0.5, c.y1 + 0.5);
  line(ctx, c.x0, c.y1 + 0.5, c.x1, c.y1 + 0.5);
  if (opt.xTitle) ctx.fillText(opt.xTitle, (c.x0 + c.x1) / 2, c.height - 15);
  if (opt.yTitle) {
    ctx.translate(11, (c.y0 + c.y1) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(opt.yTitle, 0, -6);
  }
  ctx.restore();
}

function zeroLine(c, ys) {
  if (ys.domain[0] > 0 || ys.domain[1] < 0) return;
  const ctx = c.ctx;
  ctx.save();
  ctx.strokeStyle = COLOR.ref;
  ctx.setLineDash([3, 3]);
  const y = Math.round(ys(0)) + 0.5;
  line(ctx, c.x0, y, c.x1, y);
  ctx.restore();
}

const tooltip = (() => {
  let node = null;
  return {
    show(lines, pageX, pageY) {
      if (!node) {
        node = el("div", {class: "tooltip", role: "status"});
        document.body.append(node);
      }
      node.replaceChildren(...lines.map((text) => el("div", {text})));
      node.style.display = "block";
      const right = pageX + 14 + node.offsetWidth > window.scrollX + window.innerWidth;
      node.style.left = (right ? pageX - 14 - node.offsetWidth : pageX + 14) + "px";
      node.style.top = (pageY + 12) + "px";
    },
    hide() { if (node) node.style.display = "none"; },
  };
})();

function onHover(canvas, find) {
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const lines = find(event.clientX - box.left, event.clientY - box.top);
    if (lines) tooltip.show(lines, event.pageX, event.pageY);
    else tooltip.hide();
  });
  canvas.addEventListener("mouseleave", () => tooltip.hide());
}

function nearestIndex(sorted, value) {
  let lo = 0, hi = sorted.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid; else hi = mid;
  }
  return Math.abs(sorted[lo] - value) <= Math.abs(sorted[hi] - value) ? lo : hi;
}

// A numeric term: its effect, the band, a histogram of the data along the bottom and,
// on request, partial residuals.
function curveChart(parent, spec) {
  const c = chartCanvas(parent, spec.width || 460, spec.height || 270);
  const pointsY = spec.points ? spec.points.y.filter(Number.isFinite).sort((a, b) => a - b) : [];
  const yRange = extent([spec.lower, spec.upper, pointsY.length ?
    [quantile(pointsY, 0.01), quantile(pointsY, 0.99)] : []]);
  const histRange = spec.hist && spec.hist.edges.length ?
    [spec.hist.edges[0], spec.hist.edges[spec.hist.edges.length - 1]] : [];
  const xs = scale(...extent([spec.x, histRange], 0), c.x0, c.x1);
  const ys = scale(yRange[0], yRange[1], c.y1, c.y0);
  drawAxes(c, xs, ys, spec);
  const ctx = c.ctx;
  ctx.save();
  ctx.beginPath();
  ctx.rect(c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0);
  ctx.clip();
  if (spec.hist) drawHistogram(c, xs, spec.hist);
  zeroLine(c, ys);
  if (spec.points) drawPoints(ctx, spec.points.x, spec.points.y, xs, ys, COLOR.dot, 2);
  ctx.fillStyle = COLOR.band;
  ctx.beginPath();
  spec.x.forEach((x, i) => ctx.lineTo(xs(x), ys(spec.upper[i])));
  for (let i = spec.x.length - 1; i >= 0; i--) ctx.lineTo(xs(spec.x[i]), ys(spec.lower[i]));
  ctx.fill();
  ctx.strokeStyle = spec.color || COLOR.line;
  ctx.lineWidth = 2;
  ctx.beginPath();
  spec.x.forEach((x, i) => ctx.lineTo(xs(x), ys(spec.effect[i])));
  ctx.stroke();
  ctx.restore();
  onHover(c.canvas, (px, py) => {
    if (px < c.x0 || px > c.x1 || py < c.y0 || py > c.y1) return null;
    const i = nearestIndex(spec.x, xs.invert(px));
    const lines = [`${spec.xTitle} = ${fmt(spec.x[i], 5)}`, `effect ${signed(spec.effect[i], 4)}`,
      `${spec.bandLabel} [${fmt(spec.lower[i], 4)}, ${fmt(spec.upper[i], 4)}]`];
    const bin = spec.hist ? histogramBin(spec.hist, spec.x[i]) : -1;
    if (bin >= 0) lines.push(`${count(spec.hist.counts[bin])} rows in this bin`);
    return lines;
  });
  return c.canvas;
}

function drawHistogram(c, xs, hist) {
  const top = Math.max(...hist.counts, 1);
  const height = (c.y1 - c.y0) * 0.22;
  c.ctx.fillStyle = COLOR.hist;
  hist.counts.forEach((n, i) => {
    if (!n) return;
    const xa = xs(hist.edges[i]), xb = xs(hist.edges[i + 1]);
    const h = Math.max(1, height * n / top);
    c.ctx.fillRect(xa, c.y1 - h, Math.max(xb - xa - 0.5, 0.5), h);
  });
}

function histogramBin(hist, x) {
  const e = hist.edges;
  if (!e.length || x < e[0] || x > e[e.length - 1]) return -1;
  for (let i = 0; i < e.length - 2; i++) if (x < e[i + 1]) return i;
  return e.length - 2;
}

function drawPoints(ctx, x, y, xs, ys, color, size) {
  ctx.fillStyle = color;
  const half = size / 2;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === null || !Number.isFinite(x[i]) || !Number.isFinite(y[i])) continue;
    ctx.fillRect(xs(x[i]) - half, ys(y[i]) - half, size, size);
  }
}

// Horizontal bars with intervals: a categorical term's levels, or importances.
function barsChart(parent, spec) {
  const n = spec.labels.length;
  const longest = Math.max(4, ...spec.labels.map((s) => Math.min(String(s).length, 24)));
  const left = 12 + 6.4 * longest;
  const c = chartCanvas(parent, spec.width || 460, Math.max(110, 20 * n + 52),
    {left, right: 16, top: 8, bottom: 38});
  const values = [spec.values, spec.lower || [], spec.upper || [], [0]];
  const xs = scale(...extent(values, 0.06), c.x0, c.x1);
  const band = (c.y1 - c.y0) / Math.max(n, 1);
  const ctx = c.ctx;
  drawAxes(c, xs, null, spec);
  ctx.save();
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  spec.labels.forEach((label, i) => {
    const y = c.y0 + band * (i + 0.5);
    const text = String(label);
    ctx.fillStyle = COLOR.text;
    ctx.fillText(text.length > 24 ? text.slice(0, 23) + "\u2026" : text, c.x0 - 6, y);
    const v = spec.values[i];
    ctx.fillStyle = spec.color || (v >= 0 ? COLOR.pos : COLOR.neg);
    const xa = xs(Math.min(0, v)), xb = xs(Math.max(0, v));
    ctx.fillRect(xa, y - band * 0.32, Math.max(xb - xa, 1), band * 0.64);
    if (spec.lower) {
      ctx.strokeStyle = "#222";
      line(ctx, xs(spec.lower[i]), y, xs(spec.upper[i]), y);
      line(ctx, xs(spec.lower[i]), y - 3, xs(spec.lower[i]), y + 3);
      line(ctx, xs(spec.upper[i]), y - 3, xs(spec.upper[i]), y + 3);
    }
  });
  ctx.strokeStyle = COLOR.axis;
  line(ctx, Math.round(xs(0)) + 0.5, c.y0, Math.round(xs(0)) + 0.5, c.y1);
  ctx.restore();
  const rowAt = (py) => Math.floor((py - c.y0) / band);
  onHover(c.canvas, (px, py) => {
    const i = rowAt(py);
    return i >= 0 && i < n ? spec.describe(i) : null;
  });
  if (spec.onSelect) {
    c.canvas.style.cursor = "pointer";
    c.canvas.addEventListener("click", (event) => {
      const i = rowAt(event.clientY - c.canvas.getBoundingClientRect().top);
      if (i >= 0 && i < n) spec.onSelect(i);
    });
  }
  return c.canvas;
}
