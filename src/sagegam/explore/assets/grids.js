// Charts of pairs, levels, many points and sums: a heatmap, curves per level, a
// scatter, a waterfall (the primitives are in charts.js).

function diverging(value, limit) {
  const t = Math.max(-1, Math.min(1, value / (limit || 1)));
  const white = [247, 247, 247], red = [178, 24, 43], blue = [33, 102, 172];
  const end = t >= 0 ? red : blue, a = Math.abs(t);
  const mix = white.map((w, k) => Math.round(w + (end[k] - w) * a));
  return `rgb(${mix[0]},${mix[1]},${mix[2]})`;
}

// A pair: the effect over a grid of both features (numbers or levels on either axis).
function heatmapChart(parent, spec) {
  const c = chartCanvas(parent, spec.width || 460, spec.height || 300,
    {left: spec.yLevels ? 96 : 58, right: 64, bottom: spec.xLevels ? 70 : 40});
  const nx = spec.x.length, ny = spec.y.length;
  const xEdges = cellEdges(spec.x, spec.xLevels), yEdges = cellEdges(spec.y, spec.yLevels);
  const xs = scale(xEdges[0], xEdges[nx], c.x0, c.x1);
  const ys = scale(yEdges[0], yEdges[ny], c.y1, c.y0);
  const limit = Math.max(...spec.z.flat().map((v) => Math.abs(v || 0)), 1e-12);
  const ctx = c.ctx;
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < ny; j++) {
      ctx.fillStyle = diverging(spec.z[i][j], limit);
      const xa = xs(xEdges[i]), xb = xs(xEdges[i + 1]), ya = ys(yEdges[j + 1]), yb = ys(yEdges[j]);
      ctx.fillRect(xa, ya, xb - xa + 0.6, yb - ya + 0.6);
    }
  }
  if (spec.points) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0);
    ctx.clip();
    drawPoints(ctx, spec.points.x, spec.points.y, xs, ys, "rgba(0,0,0,0.35)", 2);
    ctx.restore();
  }
  drawAxes(c, spec.xLevels ? null : xs, spec.yLevels ? null : ys, Object.assign({noGrid: true}, spec));
  levelTicks(c, spec, xs, ys);
  colorBar(c, limit);
  onHover(c.canvas, (px, py) => {
    if (px < c.x0 || px > c.x1 || py < c.y0 || py > c.y1) return null;
    const i = cellAt(xEdges, xs.invert(px)), j = cellAt(yEdges, ys.invert(py));
    return [`${spec.xTitle} = ${fmt(spec.x[i], 5)}`, `${spec.yTitle} = ${fmt(spec.y[j], 5)}`,
      `effect ${signed(spec.z[i][j], 4)} (se ${fmt(spec.se[i][j], 3)})`];
  });
  return c.canvas;
}

function cellEdges(values, levels) {
  if (levels) return values.map((_, i) => i - 0.5).concat([values.length - 0.5]);
  const edges = [values[0]];
  for (let i = 1; i < values.length; i++) edges.push((values[i - 1] + values[i]) / 2);
  edges.push(values[values.length - 1]);
  return edges;
}

function cellAt(edges, v) {
  for (let i = 0; i < edges.length - 1; i++) if (v <= edges[i + 1]) return i;
  return edges.length - 2;
}

function levelTicks(c, spec, xs, ys) {
  const ctx = c.ctx;
  ctx.save();
  ctx.fillStyle = COLOR.text;
  if (spec.yLevels) {
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    spec.y.forEach((label, j) => ctx.fillText(String(label).slice(0, 14), c.x0 - 5, ys(j)));
  }
  if (spec.xLevels) {
    spec.x.forEach((label, i) => {
      ctx.save();
      ctx.translate(xs(i), c.y1 + 6);
      ctx.rotate(-Math.PI / 4);
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(String(label).slice(0, 14), 0, 0);
      ctx.restore();
    });
  }
  ctx.restore();
}

function colorBar(c, limit) {
  const ctx = c.ctx, x = c.x1 + 14, h = c.y1 - c.y0;
  for (let k = 0; k < h; k++) {
    ctx.fillStyle = diverging(limit * (1 - 2 * k / h), limit);
    ctx.fillRect(x, c.y0 + k, 12, 1.5);
  }
  ctx.fillStyle = COLOR.text;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(signed(limit, 3), x + 15, c.y0 + 4);
  ctx.fillText("0", x + 15, c.y0 + h / 2);
  ctx.fillText(signed(-limit, 3), x + 15, c.y1 - 4);
}

// A numeric feature by a categorical one: one curve per level.
function curvesChart(parent, spec) {
  const c = chartCanvas(parent, spec.width || 460, spec.height || 270);
  const shown = spec.series.slice(0, SERIES.length);
  const xs = scale(...extent([spec.x], 0), c.x0, c.x1);
  const yRange = extent(shown.map((s) => s.effect));
  const ys = scale(yRange[0], yRange[1], c.y1, c.y0);
  drawAxes(c, xs, ys, spec);
  zeroLine(c, ys);
  const ctx = c.ctx;
  shown.forEach((s, k) => {
    ctx.strokeStyle = SERIES[k];
    ctx.lineWidth = 1.8;
    ctx.beginPath();
    spec.x.forEach((x, i) => ctx.lineTo(xs(x), ys(s.effect[i])));
    ctx.stroke();
  });
  const legend = el("div", {class: "legend"}, shown.map((s, k) => el("span", {}, [
    el("i", {style: `background:${SERIES[k]}`}), String(s.label)])));
  if (spec.series.length > shown.length) {
    legend.append(el("span", {text: `(${spec.series.length - shown.length} more levels not drawn)`}));
  }
  parent.append(legend);
  onHover(c.canvas, (px, py) => {
    if (px < c.x0 || px > c.x1 || py < c.y0 || py > c.y1) return null;
    const i = nearestIndex(spec.x, xs.invert(px));
    return [`${spec.xTitle} = ${fmt(spec.x[i], 5)}`].concat(shown.map(
      (s) => `${s.label}: ${signed(s.effect[i], 4)} [${fmt(s.lower[i], 3)}, ${fmt(s.upper[i], 3)}]`));
  });
  return c.canvas;
}

// Many points (predicted against observed, residuals), optionally joined (calibration).
function scatterChart(parent, spec) {
  const c = chartCanvas(parent, spec.width || 460, spec.height || 300);
  const xr = extent([spec.x].concat(spec.diagonal ? [spec.y] : []));
  const yr = extent([spec.y].concat(spec.diagonal ? [spec.x] : []));
  const xs = scale(xr[0], xr[1], c.x0, c.x1), ys = scale(yr[0], yr[1], c.y1, c.y0);
  drawAxes(c, xs, ys, spec);
  const ctx = c.ctx;
  ctx.save();
  ctx.beginPath();
  ctx.rect(c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0);
  ctx.clip();
  if (spec.zero) zeroLine(c, ys);
  if (spec.diagonal) {
    ctx.strokeStyle = COLOR.ref;
    ctx.setLineDash([4, 3]);
    const lo = Math.max(xr[0], yr[0]), hi = Math.min(xr[1], yr[1]);
    line(ctx, xs(lo), ys(lo), xs(hi), ys(hi));
    ctx.setLineDash([]);
  }
  const size = spec.x.length > 20000 ? 1.5 : spec.connect ? 5 : 2.5;
  drawPoints(ctx, spec.x, spec.y, xs, ys, spec.connect ? COLOR.line :
    spec.x.length > 20000 ? "rgba(29,95,166,0.25)" : "rgba(29,95,166,0.45)", size);
  if (spec.connect) {
    ctx.strokeStyle = COLOR.line;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    spec.x.forEach((x, i) => ctx.lineTo(xs(x), ys(spec.y[i])));
    ctx.stroke();
  }
  ctx.restore();
  onHover(c.canvas, (px, py) => {
    if (px < c.x0 || px > c.x1 || py < c.y0 || py > c.y1) return null;
    let best = -1, distance = 36;
    for (let i = 0; i < spec.x.length; i++) {
      const d = Math.abs(xs(spec.x[i]) - px) + Math.abs(ys(spec.y[i]) - py);
      if (d < distance) { distance = d; best = i; }
    }
    return best < 0 ? null : spec.describe(best);
  });
  return c.canvas;
}

// How a prediction is built: the intercept, then each term's push (and the offset's), to
// the total. The canvas's data-bars holds what was drawn, for tests and for copying.
function waterfallChart(parent, spec) {
  const n = spec.steps.length + 2;
  const longest = Math.max(9, ...spec.steps.concat([{label: spec.totalLabel}])
    .map((s) => Math.min(s.label.length, 26)));
  const c = chartCanvas(parent, spec.width || 640, Math.max(140, 22 * n + 50),
    {left: 14 + 6.4 * longest, right: 70, top: 8, bottom: 38});
  const rows = [{label: "intercept", from: 0, to: spec.intercept, kind: "total"}];
  let running = spec.intercept;
  for (const s of spec.steps) {
    rows.push({label: s.label, from: running, to: running + s.value,
      kind: s.kind || (s.value >= 0 ? "pos" : "neg")});
    running += s.value;
  }
  rows.push({label: spec.totalLabel, from: 0, to: spec.total, kind: "total"});
  const xs = scale(...extent([rows.map((r) => r.from), rows.map((r) => r.to)], 0.08), c.x0, c.x1);
  drawAxes(c, xs, null, spec);
  const ctx = c.ctx, band = (c.y1 - c.y0) / n;
  ctx.textBaseline = "middle";
  rows.forEach((r, i) => {
    const y = c.y0 + band * (i + 0.5);
    ctx.fillStyle = COLOR.text;
    ctx.textAlign = "right";
    ctx.fillText(r.label.length > 26 ? r.label.slice(0, 25) + "\u2026" : r.label, c.x0 - 6, y);
    ctx.fillStyle = COLOR[r.kind];
    const xa = xs(Math.min(r.from, r.to)), xb = xs(Math.max(r.from, r.to));
    ctx.fillRect(xa, y - band * 0.32, Math.max(xb - xa, 1.5), band * 0.64);
    ctx.fillStyle = COLOR.text;
    ctx.textAlign = "left";
    ctx.fillText(r.kind === "total" ? fmt(r.to, 4) : signed(r.to - r.from, 3), xb + 4, y);
  });
  ctx.strokeStyle = COLOR.axis;
  line(ctx, Math.round(xs(0)) + 0.5, c.y0, Math.round(xs(0)) + 0.5, c.y1);
  onHover(c.canvas, (px, py) => {
    const i = Math.floor((py - c.y0) / band);
    if (i < 0 || i >= rows.length) return null;
    const r = rows[i];
    return [r.label, r.kind === "total" ? fmt(r.to, 6) : `${signed(r.to - r.from, 6)} \u2192 ${fmt(r.to, 6)}`];
  });
  c.canvas.dataset.bars = JSON.stringify(rows);
  return c.canvas;
}
