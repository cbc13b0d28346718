// Start: read the data block, score the embedded rows, build every section, then mark
// the document ready (data-ready: milliseconds since navigation) or failed (data-error).

function header(app) {
  const d = app.data;
  return el("header", {}, [el("h1", {text: d.title}), el("nav", {}, [
    el("a", {href: "#overview", text: "Overview"}), el("a", {href: "#terms", text: "Terms"}),
    el("a", {href: "#why", text: "Why this prediction"}),
    el("a", {href: "#validation", text: "Predicted against observed"})])]);
}

function applyHash(app) {
  const match = /^#why=(?:([^:]+):)?(\d+)$/.exec(decodeURIComponent(location.hash));
  if (!match || !app.showRow) return;
  const wanted = match[1] ? match[1].toLowerCase() : null;
  const dataset = app.data.datasets.find((d) => !wanted || d.label.toLowerCase().startsWith(wanted));
  if (!dataset) return;
  app.showRow(dataset, Number(match[2]));
  document.getElementById("why").scrollIntoView();
}

function boot() {
  const data = JSON.parse(document.getElementById("sagegam-data").textContent);
  const model = new Model(data.model);
  data.datasets.forEach((d) => scoreDataset(model, d));
  const order = data.terms.map((_, t) => t).sort((a, b) => data.terms[b].importance - data.terms[a].importance);
  const app = {data, model, order, showRow: null};
  const root = document.getElementById("app");
  root.append(header(app), overviewSection(app), termsSection(app), whySection(app),
    validationSection(app), el("footer", {text: `Written by ${data.written_by}; this page ` +
      "needs no network and no server."}));
  applyHash(app);
  window.addEventListener("hashchange", () => applyHash(app));
  document.documentElement.dataset.ready = performance.now().toFixed(1);
}

try {
  boot();
} catch (error) {
  document.documentElement.dataset.error = String((error && error.stack) || error);
  document.body.prepend(el("p", {class: "error", text: `The explorer failed to draw: ${error}`}));
}
