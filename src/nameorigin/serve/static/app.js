// The nameorigin page: reads names from the textarea, asks POST /v1/predict, draws the answers.
// Everything is built with DOM calls and textContent, so a name is always shown as text.
"use strict";

const state = { explain: false, labels: [], coverage: null };

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(p) {
  return (100 * p).toFixed(1) + " %";
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

async function loadModel() {
  try {
    const info = await getJSON("/v1/model");
    state.labels = info.labels;
    state.explain = Boolean(info.explain);
    const revision = document.getElementById("revision");
    revision.textContent = info.revision.slice(0, 12);
    revision.title = info.revision;
    document.getElementById("label-count").textContent = String(info.labels.length);
    document.getElementById("labels").textContent = info.labels.join(", ");
    const topK = document.getElementById("top-k");
    topK.max = String(info.labels.length);
    if (Number(topK.value) > info.labels.length) topK.value = String(info.labels.length);
    document.getElementById("names-hint").append(
      ` Up to ${info.limits.max_names} names, ${info.limits.max_name_chars} characters each.`);
  } catch (err) {
    showError(`Could not read the model's description (${err.message}).`);
  }
}

function bars(predictions) {
  const list = el("ol", "bars");
  for (const p of predictions) {
    const item = el("li", "bar");
    item.dataset.label = p.label;
    item.dataset.probability = String(p.probability);
    const track = el("span", "track");
    track.setAttribute("aria-hidden", "true");
    const fill = el("span", "fill");
    fill.style.width = `${Math.max(0, Math.min(1, p.probability)) * 100}%`;
    track.append(fill);
    item.append(el("span", "label", p.label), track, el("span", "value", percent(p.probability)));
    list.append(item);
  }
  return list;
}

function stepsTable(explanation) {
  const table = el("table", "steps-table");
  const head = table.createTHead().insertRow();
  head.append(el("th", "", "Prefix read"), el("th", "", "Most likely labels"));
  const body = table.createTBody();
  for (const step of explanation.steps) {
    const row = body.insertRow();
    const guesses = step.predictions.map((p) => `${p.label} ${percent(p.probability)}`).join(", ");
    row.append(el("td", "", step.prefix), el("td", "", guesses || "(nothing to read yet)"));
  }
  return table;
}

function explainView(name) {
  const details = el("details", "steps");
  details.append(el("summary", "", "How the prediction forms, letter by letter"));
  const holder = el("div", "steps-scroll");
  details.append(holder);
  details.addEventListener("toggle", async () => {
    if (!details.open || holder.dataset.loaded) return;
    holder.dataset.loaded = "1";
    holder.textContent = "Loading…";
    try {
      const topK = Math.min(3, state.labels.length || 3);
      const url = `/v1/explain?name=${encodeURIComponent(name)}&top_k=${topK}`;
      const explanation = await getJSON(url);
      holder.textContent = "";
      holder.append(explanation.steps.length ? stepsTable(explanation)
        : el("p", "hint", explanation.reason || "No prefix can be read."));
    } catch (err) {
      holder.textContent = `Could not load the per-prefix view (${err.message}).`;
      delete holder.dataset.loaded;
    }
  });
  return details;
}

function card(p) {
  const article = el("article", "result");
  article.dataset.name = p.name;
  const title = el("h2", "", p.name || "(empty line)");
  if (p.normalized && p.normalized !== p.name) title.append(" ", el("span", "normalized", `read as ${p.normalized}`));
  article.append(title);
  if (p.abstained) article.append(el("p", "abstained", `Not guessed: ${p.reason}`));
  if (p.predictions.length) article.append(bars(p.predictions));
  if (Array.isArray(p.prediction_set) && state.coverage) {
    const set = el("p", "prediction-set", `${Math.round(100 * state.coverage)} % prediction set: `);
    set.append(el("strong", "", p.prediction_set.join(", ")));
    article.append(set);
  }
  if (state.explain && p.predictions.length) article.append(explainView(p.name));
  return article;
}

async function predict(event) {
  event.preventDefault();
  const names = document.getElementById("names").value.split("\n").map((s) => s.trim()).filter((s) => s);
  const status = document.getElementById("status");
  const results = document.getElementById("results");
  showError("");
  if (!names.length) {
    status.textContent = "Type at least one name.";
    return;
  }
  const button = document.getElementById("submit");
  button.disabled = true;
  status.textContent = "Predicting…";
  try {
    const body = {
      names,
      top_k: Number(document.getElementById("top-k").value) || 3,
      min_confidence: Number(document.getElementById("min-confidence").value) || 0,
      level: document.getElementById("level").value,
    };
    state.coverage = Number(document.getElementById("coverage").value) || null;
    if (state.coverage) body.coverage = state.coverage;
    const answer = await getJSON("/v1/predict", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    results.replaceChildren(...answer.predictions.map(card));
    const abstained = answer.predictions.filter((p) => p.abstained).length;
    status.textContent = `${answer.predictions.length} ${answer.predictions.length === 1 ? "name" : "names"}`
      + (abstained ? `, ${abstained} not guessed.` : ".");
  } catch (err) {
    status.textContent = "";
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("form");
  form.addEventListener("submit", predict);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  loadModel();
});
