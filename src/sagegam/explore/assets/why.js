// "Why this prediction": pick a row, or type values, and see each term's contribution.
// The intercept plus the contributions (plus the offset, for a model with one) is the
// linear predictor, exactly as the endpoint's explain=true answers; the inverse link of
// that sum is the prediction.

const MISSING_TEXT = new Set(["", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "null", "NULL",
  "None", "<NA>", "#N/A"]);

function whySection(app) {
  const state = {dataset: app.data.datasets[0] || null, position: null};
  const inputs = app.model.features.map((f, j) => featureInput(app, f, j));
  const result = el("div", {id: "why-result"});
  const status = el("p", {class: "note", id: "why-status"});
  const rowInput = el("input", {type: "number", id: "why-row", min: 1, step: 1,
    "aria-label": "row number"});
  const section = el("section", {id: "why"}, [
    el("h2", {text: "Why this prediction"}),
    el("p", {class: "lead", text: "Pick a row (numbered from 1, the first data row, as " +
      "sagegam's messages number them) or type values: each term's contribution is listed, " +
      `and the intercept plus the contributions${app.model.offsetColumns.length ?
        " plus the offset" : ""} is the prediction on the ` +
      `${linkScale(app.model)}, as the endpoint's explain=true returns it.`}),
  ]);
  const compute = () => renderWhy(app, state, inputs, result);
  app.showRow = (dataset, number) => {
    state.dataset = dataset;
    rowInput.value = String(number);
    const position = Number.isInteger(number) && number >= 1 ? findRow(dataset, number - 1) : -1;
    if (!(number >= 1)) {
      status.textContent = "Rows are numbered from 1, the first data row.";
      return;
    }
    if (position < 0) {
      status.textContent = `Row ${number} is not among the ${count(dataset.rows.length)} rows of ` +
        `the ${dataset.label} this page holds (of ${count(dataset.n)}); type its values below.`;
      return;
    }
    state.position = position;
    status.textContent = `Row ${number} of the ${dataset.label}` + (dataset.target ?
      `; observed ${observedText(app, dataset.target[position])}.` : ".");
    inputs.forEach((input, j) => input.set(givenValue(dataset, j, position)));
    compute();
  };
  if (state.dataset) {
    const sets = app.data.datasets;
    const chooser = sets.length > 1 ? el("select", {id: "why-dataset", "aria-label": "data set",
      onchange: (ev) => app.showRow(sets[Number(ev.target.value)], Number(rowInput.value) || 1)},
    sets.map((d, k) => el("option", {value: k, text: d.label}))) : null;
    const step = (delta) => () => {
      const d = state.dataset, at = state.position === null ? 0 : state.position + delta;
      app.showRow(d, d.rows[Math.max(0, Math.min(d.rows.length - 1, at))] + 1);
    };
    rowInput.addEventListener("change", () => app.showRow(state.dataset, Math.round(Number(rowInput.value))));
    section.append(el("div", {class: "controls"}, [chooser, el("label", {}, ["row ", rowInput]),
      el("button", {type: "button", text: "\u25c0 previous", onclick: step(-1)}),
      el("button", {type: "button", text: "next \u25b6", onclick: step(1)})]), status);
  } else {
    section.append(el("p", {class: "note", text: "No data was given, so there are no rows to " +
      "pick; type values below (they start at each feature's middle or first level" +
      app.model.offsetColumns.map((j) => app.model.features[j].kind === "exposure" ?
        `, ${app.model.features[j].name} at 1` : `, ${app.model.features[j].name} at 0`).join("") +
      ")."}));
  }
  const form = el("form", {class: "values", id: "why-values", onsubmit: (ev) => ev.preventDefault()},
    inputs.map((input) => input.node));
  form.addEventListener("input", () => {
    state.position = null;
    status.textContent = "Typed values.";
    compute();
  });
  section.append(form, result);
  if (state.dataset) app.showRow(state.dataset, state.dataset.rows[0] + 1);
  else compute();
  return section;
}

function findRow(dataset, index) {
  let lo = 0, hi = dataset.rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (dataset.rows[mid] === index) return mid;
    if (dataset.rows[mid] < index) lo = mid + 1; else hi = mid - 1;
  }
  return -1;
}

// What a row's field shows: its code, but an exposure as given (the code is its log).
function givenValue(dataset, j, position) {
  const given = dataset.exposures[j];
  return given ? given[position] : dataset.codes[j][position];
}

function observedText(app, value) {
  const classes = app.model.spec.classes;
  return classes ? `\u201c${classes[value > 0.5 ? 1 : 0]}\u201d` : fmt(value, 6);
}

// One feature's input: a list of levels, or a text box for a number (blank: missing).
function featureInput(app, feature, j) {
  const id = `why-feature-${j}`;
  if (app.model.isOffset(j)) return offsetInput(feature, id);
  if (feature.kind === "categorical") {
    const options = feature.levels.map((level, code) => el("option", {value: code, text: level}));
    if (feature.missing) options.push(el("option", {value: feature.levels.length, text: "(missing)"}));
    const select = el("select", {id, "data-feature": feature.name}, options);
    return {node: el("label", {}, [el("span", {text: feature.name}), select]),
      set: (code) => { select.value = code === null || code < 0 ? "" : String(code); },
      read: () => select.value === "" ? {code: -1} : {code: Number(select.value)}};
  }
  const box = el("input", {id, type: "text", inputmode: "decimal", "data-feature": feature.name,
    autocomplete: "off"});
  const message = el("small", {class: "error"});
  const read = () => {
    const text = box.value.trim().replace(/\u2212/g, "-");  // a pasted typographic minus
    if (MISSING_TEXT.has(text)) return missingValue(app, feature);
    const value = Number(text);
    return Number.isFinite(value) ? {code: value} : {error: `${feature.name}: \u201c${text}\u201d is not a number.`};
  };
  const initial = app.model.terms.flatMap((t) => t.margins).find((m) => m.feature === j && m.kind === "spline");
  box.value = initial ? String(Number(((initial.lower + initial.upper) / 2).toPrecision(4))) : "0";
  return {node: el("label", {}, [el("span", {text: feature.name}), box, message]),
    set: (code) => { box.value = code === null ? "" : String(code); }, read, message};
}

// An offset's or exposure's box: every row needs one (no model can ignore part of a
// row's scale), an exposure is a positive number and enters as its log.
function offsetInput(feature, id) {
  const exposure = feature.kind === "exposure";
  const box = el("input", {id, type: "text", inputmode: "decimal", "data-feature": feature.name,
    "data-kind": feature.kind, autocomplete: "off", value: exposure ? "1" : "0"});
  const message = el("small", {class: "error"});
  const read = () => {
    const text = box.value.trim().replace(/\u2212/g, "-");
    if (MISSING_TEXT.has(text)) {
      return {error: `${feature.name} is missing; it is the model's ${feature.kind}, needed in ` +
        "every row."};
    }
    const value = Number(text);
    if (exposure && !(Number.isFinite(value) && value > 0)) {
      return {error: `${feature.name}: \u201c${text}\u201d is not a positive, finite number ` +
        "(the row's exposure: time, size or count at risk)."};
    }
    if (!Number.isFinite(value)) {
      return {error: `${feature.name}: \u201c${text}\u201d is not a finite number (the offset ` +
        "is added to the linear predictor)."};
    }
    return {code: exposure ? Math.log(value) : value};
  };
  const label = exposure ? `${feature.name} (exposure)` : `${feature.name} (offset)`;
  return {node: el("label", {}, [el("span", {text: label}), box, message]),
    set: (value) => { box.value = String(value); }, read, message};
}

function missingValue(app, feature) {
  if (feature.missing) return {code: NaN};
  if (app.model.spec.handle_unknown === "ignore") {
    return {code: NaN, note: `${feature.name} is missing, which training never saw: zero effect.`};
  }
  return {error: `${feature.name} is missing, and the training data had no missing values ` +
    "there; fill it in."};
}

function renderWhy(app, state, inputs, result) {
  const read = inputs.map((input) => input.read());
  inputs.forEach((input, j) => { if (input.message) input.message.textContent = read[j].error || ""; });
  const errors = read.filter((r) => r.error).map((r) => r.error);
  const codes = read.map((r) => r.code);
  let parts = null;
  try {
    if (!errors.length) parts = app.model.parts(codes);
  } catch (error) {
    if (!(error instanceof OutsideRange)) throw error;
    errors.push(error.message);
  }
  if (errors.length) {
    result.replaceChildren(el("p", {class: "error", text: errors.join(" ")}));
    for (const key of ["intercept", "offset", "eta", "prediction"]) delete result.dataset[key];
    return;
  }
  const n = app.model.terms.length;
  const contributions = parts.slice(0, n), offset = parts.length > n ? parts[n] : null;
  const eta = app.model.linearPredictor(parts);
  const mean = app.model.mean(eta);
  const order = contributions.map((_, t) => t).sort((a, b) => Math.abs(contributions[b]) - Math.abs(contributions[a]));
  const notes = read.filter((r) => r.note).map((r) => el("p", {class: "note", text: r.note}));
  const chart = el("div", {class: "plot"});
  const why = {codes, contributions, offset, order, eta, mean};
  result.replaceChildren(headline(app, why), ...notes, chart, whyTable(app, why));
  result.dataset.intercept = String(app.model.intercept);
  if (offset === null) delete result.dataset.offset; else result.dataset.offset = String(offset);
  result.dataset.eta = String(eta);
  result.dataset.prediction = String(mean);
  // The offset's bar comes after the terms': it is no term, and has no rank among them.
  const steps = order.map((t) => ({label: app.model.terms[t].name, value: contributions[t]}))
    .concat(offset === null ? [] : [{label: OFFSET_PART, value: offset, kind: "offset"}]);
  waterfallChart(chart, {intercept: app.model.intercept, total: eta, width: 720, steps,
    totalLabel: app.model.spec.link === "identity" ? "prediction" : `sum (${linkScale(app.model)})`,
    xTitle: linkScale(app.model)});
}

function headline(app, why) {
  const spec = app.model.spec, model = app.model;
  const terms = why.contributions.reduce((total, c) => total + c, 0.0);
  const sum = `intercept ${fmt(model.intercept, 5)} + contributions ${signed(terms, 5)}` +
    (why.offset === null ? "" : ` + offset ${signed(why.offset, 5)}`) + ` = ${fmt(why.eta, 6)}`;
  if (spec.link !== "logit") {
    return el("div", {class: "headline"}, [el("b", {text: `prediction ${fmt(why.mean, 6)}`}),
      rate(model, why), el("p", {text: spec.link === "log" ? `exp(${sum})` : sum})]);
  }
  return el("div", {class: "headline"}, [
    el("b", {text: `P(${spec.classes[1]}) = ${fmt(why.mean, 4)}`}),
    el("span", {text: ` predicted class \u201c${spec.classes[why.mean > 0.5 ? 1 : 0]}\u201d`}),
    el("p", {text: `log-odds: ${sum}; probability = 1 / (1 + exp(\u2212log-odds))`})]);
}

// A rate model's prediction per unit of exposure: what the terms say, whatever the size.
function rate(model, why) {
  const exposures = model.offsetColumns.filter((j) => model.features[j].kind === "exposure");
  if (!exposures.length) return null;
  const logged = exposures.reduce((total, j) => total + why.codes[j], 0.0);
  const names = exposures.map((j) => model.features[j].name).join(" \u00d7 ");
  return el("span", {text: ` (${fmt(Math.exp(why.eta - logged), 6)} per unit of ${names})`});
}

function whyTable(app, why) {
  const {codes, contributions, order, offset, eta} = why;
  const rows = order.map((t) => el("tr", {"data-term": app.model.terms[t].name,
    "data-contribution": String(contributions[t])}, [
    el("td", {}, el("a", {href: `#term-${t}`, text: app.model.terms[t].name})),
    el("td", {text: termFeatures(app.model, t).map((j) => `${app.model.features[j].name} = ` +
      app.model.levelName(j, codes[j])).join(", ")}),
    el("td", {class: "num", text: signed(contributions[t], 5)})]));
  return el("table", {class: "why"}, [
    el("tr", {}, ["term", "value", "contribution"].map((h) => el("th", {text: h}))),
    el("tr", {class: "intercept"}, [el("td", {text: "intercept"}), el("td", {text: ""}),
      el("td", {class: "num", text: fmt(app.model.intercept, 5)})]),
  ].concat(rows, offset === null ? [] : [offsetRow(app.model, codes, offset)],
  [el("tr", {class: "total"}, [el("td", {text: "sum"}), el("td", {text: linkScale(app.model)}),
    el("td", {class: "num", text: fmt(eta, 6)})])]));
}

function offsetRow(model, codes, offset) {
  const values = model.offsetColumns.map((j) => model.features[j].kind === "exposure" ?
    `log(${model.features[j].name} = ${fmt(Math.exp(codes[j]), 8)})` :
    `${model.features[j].name} = ${fmt(codes[j], 8)}`);
  return el("tr", {class: "offset", "data-part": OFFSET_PART, "data-contribution": String(offset)}, [
    el("td", {text: OFFSET_PART}), el("td", {text: values.join(", ")}),
    el("td", {class: "num", text: signed(offset, 5)})]);
}
