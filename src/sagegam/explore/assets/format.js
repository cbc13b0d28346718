// Numbers for people, and a small DOM builder. Text always goes in as textContent:
// feature names and levels come from user data and never become markup.

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "missing";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const d = digits || 4;
  if (v === 0) return "0";
  const a = Math.abs(v), sign = v < 0 ? "\u2212" : "";
  if (a >= 1e6 || a < 1e-4) return sign + a.toExponential(Math.max(d - 1, 0)).replace(/\.?0+e/, "e");
  return sign + String(Number(a.toPrecision(d)));
}

function signed(v, digits) {
  return (v > 0 ? "+" : v < 0 ? "\u2212" : "") + fmt(Math.abs(v), digits);
}

function count(n) {
  return Number(n).toLocaleString("en-US");
}

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of [].concat(children === undefined ? [] : children)) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function finite(values) {
  const out = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) out.push(v);
  return out;
}

function extent(arrays, pad) {
  let lo = Infinity, hi = -Infinity;
  for (const values of arrays) {
    for (const v of values) {
      if (v === null || !Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  const margin = (hi - lo) * (pad === undefined ? 0.04 : pad);
  return [lo - margin, hi + margin];
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const at = (sorted.length - 1) * q, i = Math.floor(at);
  return i + 1 < sorted.length ? sorted[i] + (at - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
}
