// The model's arithmetic, step for step as sagegam's GAMPredictor does it: equally spaced
// B-spline margins (cubic in closed form, other degrees by Cox-de Boor), factor
// indicators, their tensor products, the intercept, the offset and the inverse link.
// Rows come as the model's codes (numbers, level codes, NaN for missing, an offset's
// value, an exposure's log), the same codes the predictor reads, so a row's parts here
// are the endpoint's explanation.

class OutsideRange extends Error {}

const OFFSET_KINDS = new Set(["offset", "exposure"]);
const OFFSET_PART = "(offset)";

function localValues(frac, degree) {
  if (degree === 3) {
    const u = frac, v = 1.0 - u, u3 = u * u * u, sixth = 1.0 / 6.0;
    return [v * v * v * sixth, (4.0 - 6.0 * u * u + 3.0 * u3) * sixth,
      (4.0 - 6.0 * v * v + 3.0 * v * v * v) * sixth, u3 * sixth];
  }
  let values = [1.0];
  for (let j = 1; j <= degree; j++) {
    let saved = 0.0;
    const next = [];
    for (let r = 0; r < j; r++) {
      const temp = values[r] / j;
      next.push(saved + ((r + 1) - frac) * temp);
      saved = (frac + (j - r - 1)) * temp;
    }
    next.push(saved);
    values = next;
  }
  return values;
}

function localSlopes(frac, degree) {
  if (degree === 0) return [0.0];
  const lower = localValues(frac, degree - 1);
  const out = [];
  for (let k = 0; k <= degree; k++) out.push((k > 0 ? lower[k - 1] : 0.0) - (k < degree ? lower[k] : 0.0));
  return out;
}

// One spline margin at one value: the first nonzero basis column and the values.
function splineMargin(m, value, name) {
  const size = m.degree + 1;
  if (m.n_basis === 0) return {columns: new Array(size).fill(0), values: new Array(size).fill(0)};
  const missing = value === null || Number.isNaN(value);
  const x = missing ? m.lower : value;
  const intervals = Math.max(m.n_basis - m.degree, 1);
  const width = (m.upper - m.lower) / intervals;
  let position = (x - m.lower) * (1.0 / (width > 0 ? width : 1.0));
  if (m.extrapolation === "constant") position = Math.min(Math.max(position, 0.0), intervals);
  if (m.extrapolation === "error" && (x < m.lower || x > m.upper)) {
    throw new OutsideRange(`${name} = ${fmt(x, 6)} is outside the training range ` +
      `[${fmt(m.lower, 6)}, ${fmt(m.upper, 6)}]; this model was fitted with extrapolation='error'.`);
  }
  const span = Math.max(Math.min(Math.floor(position), intervals - 1), 0);
  const frac = position - span;
  const edge = Math.min(Math.max(frac, 0.0), 1.0);
  const values = localValues(edge, m.degree);
  if (frac < 0.0 || frac > 1.0) {
    // Linear extrapolation: along the tangent at the boundary.
    const beyond = frac < 0.0 ? frac : Math.max(frac - 1.0, 0.0);
    const slopes = localSlopes(edge, m.degree);
    for (let k = 0; k < size; k++) values[k] += beyond * slopes[k];
  }
  if (missing) values.fill(0.0);
  return {columns: values.map((_, k) => span + k), values};
}

function factorMargin(code) {
  const known = code !== null && code >= 0;
  return {columns: [known ? code : 0], values: [known ? 1.0 : 0.0]};
}

class Model {
  constructor(spec) {
    this.spec = spec;
    this.features = spec.features;
    this.terms = spec.terms;
    this.coef = spec.coef;
    this.intercept = spec.intercept;
    // Columns no term reads: their codes add to the linear predictor with coefficient 1.
    this.offsetColumns = spec.features.flatMap((f, j) => (OFFSET_KINDS.has(f.kind) ? [j] : []));
  }

  isOffset(j) {
    return OFFSET_KINDS.has(this.features[j].kind);
  }

  margin(m, codes) {
    const value = codes[m.feature];
    return m.kind === "spline" ? splineMargin(m, value, this.features[m.feature].name)
      : factorMargin(value);
  }

  // Per term, its nonzero basis columns (within the term) and their values.
  nonzeros(term, codes) {
    const first = this.margin(term.margins[0], codes);
    if (term.kind === "factor") return first;
    if (term.kind === "spline") {
      if (!term.missing) return first;
      const value = codes[term.margins[0].feature];
      const absent = value === null || Number.isNaN(value) ? 1.0 : 0.0;
      if (term.margins[0].n_basis === 0) return {columns: [term.margins[0].n_basis], values: [absent]};
      return {columns: first.columns.concat([term.margins[0].n_basis]),
        values: first.values.concat([absent])};
    }
    const second = this.margin(term.margins[1], codes);
    const size = term.margins[1].kind === "spline" ? term.margins[1].n_basis : term.margins[1].n_codes;
    const columns = [], values = [];
    first.columns.forEach((ca, a) => second.columns.forEach((cb, b) => {
      columns.push(ca * size + cb);
      values.push(first.values[a] * second.values[b]);
    }));
    return {columns, values};
  }

  contribution(t, codes) {
    const term = this.terms[t];
    if (term.n_coef === 0) return 0.0;
    const nz = this.nonzeros(term, codes);
    let sum = 0.0;
    for (let k = 0; k < nz.columns.length; k++) sum += this.coef[term.offset + nz.columns[k]] * nz.values[k];
    return sum;
  }

  contributions(codes) {
    return this.terms.map((_, t) => this.contribution(t, codes));
  }

  // The offset columns' codes summed (an exposure's code is its log), as offset_of.
  offset(codes) {
    return this.offsetColumns.reduce((total, j) => total + codes[j], 0.0);
  }

  // What the intercept adds up with to the linear predictor: every term's contribution,
  // then the offset (named OFFSET_PART) if the model has one, as parts_of.
  parts(codes) {
    const parts = this.contributions(codes);
    if (this.offsetColumns.length) parts.push(this.offset(codes));
    return parts;
  }

  linearPredictor(parts) {
    return this.intercept + parts.reduce((total, c) => total + c, 0.0);
  }

  mean(eta) {
    if (this.spec.link === "identity") return eta;
    if (this.spec.link === "log") return Math.exp(Math.min(eta, 700.0));
    return 0.5 * (1.0 + Math.tanh(0.5 * eta));
  }

  // d mu / d eta, for working residuals (partial residuals).
  slope(eta) {
    if (this.spec.link === "identity") return 1.0;
    if (this.spec.link === "log") return Math.exp(Math.min(eta, 700.0));
    const mu = this.mean(eta);
    return Math.max(mu * (1.0 - mu), 1e-10);
  }

  missingEffect(t) {
    const term = this.terms[t];
    return term.kind === "spline" && term.missing ? this.coef[term.offset + term.margins[0].n_basis] : null;
  }

  // The code of a feature as a person names it: a level's position, NaN for missing.
  levelName(j, code) {
    const f = this.features[j];
    if (code === null || Number.isNaN(code)) return "missing";
    if (f.kind !== "categorical") return fmt(code, 8);
    if (code < 0) return "(unknown: zero effect)";
    return code === f.levels.length ? "(missing)" : f.levels[code];
  }
}

// Each embedded row's parts (terms, then any offset), linear predictor and mean, once,
// for the charts.
function scoreDataset(model, dataset) {
  const n = dataset.rows.length, p = model.features.length;
  const codes = new Array(p);
  dataset.parts = [];
  dataset.eta = new Float64Array(n);
  dataset.mean = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) codes[j] = dataset.codes[j][i];
    const parts = model.parts(codes);
    dataset.parts.push(parts);
    dataset.eta[i] = model.linearPredictor(parts);
    dataset.mean[i] = model.mean(dataset.eta[i]);
  }
}

function rowCodes(dataset, i) {
  return dataset.codes.map((column) => (column[i] === null ? NaN : column[i]));
}
