// newsstream dashboard: polls the worker's JSON views and draws them with DOM APIs only.
// Article text is only ever set with textContent (never innerHTML): it is shown, not run.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const LABELS = new Set(["PER", "LOC", "ORG", "MISC"]);
const SENTIMENTS = new Set(["negative", "neutral", "positive"]);
let currentWindow = null;
let shownChart = "";
let shownArticles = null; // ids and event ids on screen: unchanged lists are not redrawn

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function signed(score) {
  return `${score >= 0 ? "+" : ""}${score.toFixed(2)}`;
}

// The sentiment toward an entity (schema 4's Entity.sentiment), or null: older events and
// pipelines without an entity-sentiment model have none, and none is shown.
function entitySentiment(sentiment) {
  if (!sentiment || !SENTIMENTS.has(sentiment.label)) return null;
  const score = Number(sentiment.score);
  if (!Number.isFinite(score)) return null;
  return { label: sentiment.label, score: Math.max(-1, Math.min(1, score)) };
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  return { status: response.status, body: await response.json() };
}

// Entity offsets are Unicode code points (Python string indices); JS strings are UTF-16.
function highlighted(body, entities) {
  const chars = Array.from(body);
  const fragment = document.createDocumentFragment();
  const spans = [...(entities || [])].sort((a, b) => a.start - b.start || b.end - a.end);
  let at = 0;
  for (const e of spans) {
    if (e.start < at || e.end > chars.length) continue; // overlapping or out of range
    if (e.start > at) fragment.append(chars.slice(at, e.start).join(""));
    const label = LABELS.has(e.label) ? e.label : "MISC";
    const toward = entitySentiment(e.sentiment);
    const attrs = { class: `ent ent-${label}`, "data-label": label,
      title: `${label}: ${e.canonical}` };
    if (toward) {
      attrs["data-sentiment"] = toward.label;
      attrs.title += ` · portrayed ${toward.label} (${signed(toward.score)})`;
    }
    fragment.append(el("mark", attrs, chars.slice(e.start, e.end).join("")));
    at = e.end;
  }
  if (at < chars.length) fragment.append(chars.slice(at).join(""));
  return fragment;
}

function sentimentBar(sentiment) {
  const score = Math.max(-1, Math.min(1, Number(sentiment.score) || 0));
  const wrap = el("div", { class: "sentiment" });
  const bar = el("div", { class: "bar", role: "img",
    "aria-label": `sentiment ${sentiment.label} ${score.toFixed(2)}` });
  const fill = el("div", { class: `fill ${sentiment.label}`, "data-score": score.toFixed(3) });
  const width = Math.max(Math.abs(score) * 50, 1.5);
  fill.style.width = `${width}%`;
  fill.style.left = score >= 0 ? "50%" : `${50 - width}%`;
  bar.append(fill);
  wrap.append(bar, el("span", {}, `${sentiment.label} (${signed(score)})`));
  return wrap;
}

function renderArticles(articles) {
  const key = articles.map((a) => a.event_id).join(" ");
  if (key === shownArticles) return; // keep the reader's scroll position
  shownArticles = key;
  const box = document.getElementById("articles");
  box.replaceChildren();
  if (!articles.length) { box.append(el("p", { class: "muted" }, "No articles yet.")); return; }
  for (const a of articles) {
    const card = el("article", { class: "article", "data-article-id": a.article_id });
    card.append(el("h3", {}, a.title || a.source_id));
    const when = a.published ? `published ${a.published.slice(0, 10)} · ` : "";
    card.append(el("div", { class: "meta" },
      `${when}${a.language.code} · ${a.entities.length} entities · ${a.source_path}`));
    card.append(sentimentBar(a.sentiment));
    const body = el("div", { class: "body" });
    body.append(highlighted(a.body, a.entities));
    card.append(body);
    box.append(card);
  }
}

function renderWindows(windows) {
  const box = document.getElementById("windows");
  if (box.childElementCount === windows.length) return;
  box.replaceChildren();
  for (const w of windows) {
    const button = el("button", { role: "tab", "data-window": w }, w);
    button.addEventListener("click", () => { currentWindow = w; refresh(); });
    box.append(button);
  }
}

function renderChart(data) {
  // Redraw only when the figures changed: no flicker, and elements stay put between polls.
  const key = JSON.stringify(data);
  if (key === shownChart) return;
  shownChart = key;
  renderWindows(data.windows);
  for (const b of document.querySelectorAll("#windows button")) {
    b.setAttribute("aria-selected", String(b.dataset.window === data.window));
  }
  document.getElementById("window-range").textContent =
    `${data.kind} window ${data.start.slice(0, 16).replace("T", " ")} – ` +
    `${data.end.slice(0, 16).replace("T", " ")} UTC`;
  const box = document.getElementById("chart");
  box.replaceChildren();
  const rows = data.entities;
  if (!rows.length) { box.append(el("p", { class: "muted" }, "Nothing trending yet.")); return; }
  const rowH = 24, labelW = 140, width = 400, barMax = width - labelW - 76;
  const max = Math.max(...rows.map((r) => r.mentions));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 4}`,
    role: "img", "aria-label": "mentions per entity" });
  rows.forEach((r, i) => {
    const y = i * rowH + 2;
    const avg = Math.max(-1, Math.min(1, Number(r.avg_sentiment) || 0));
    const tint = avg > 0 ? "positive" : avg < 0 ? "negative" : "neutral";
    const g = svg("g", { class: "row", "data-entity": r.name, "data-sentiment": tint });
    const name = r.name.length > 20 ? `${r.name.slice(0, 19)}…` : r.name;
    g.append(svg("text", { x: labelW - 6, y: y + 15, "text-anchor": "end" }, name));
    const w = Math.max((r.mentions / max) * barMax, 2);
    const label = LABELS.has(r.label) ? r.label : "MISC";
    const rect = svg("rect", { x: labelW, y: y + 3, width: w.toFixed(1), height: rowH - 8,
      rx: 3, class: label });
    rect.append(svg("title", {}, `${r.name} (${label}): ${r.mentions} mentions in ` +
      `${r.articles} articles, mean sentiment toward it ${signed(avg)}`));
    g.append(rect);
    g.append(svg("text", { x: labelW + w + 5, y: y + 15, class: "count" }, String(r.mentions)));
    g.append(svg("text", { x: width - 2, y: y + 15, "text-anchor": "end",
      class: `tone ${tint}` }, signed(avg)));
    chart.append(g);
  });
  box.append(chart);
}

function renderHealth(status, body) {
  const pill = document.getElementById("health");
  pill.dataset.status = status === 200 ? "ok" : "bad";
  pill.textContent = `worker ${body.status} · lag ${body.total_lag}`;
}

async function refresh() {
  try {
    const query = currentWindow ? `window=${encodeURIComponent(currentWindow)}&` : "";
    const [articles, trending, health] = await Promise.all([
      getJSON("/articles?limit=20"),
      getJSON(`/entities/trending?${query}limit=15`),
      getJSON("/health"),
    ]);
    renderArticles(articles.body.articles);
    if (trending.status === 200) {
      currentWindow = trending.body.window;
      renderChart(trending.body);
    }
    renderHealth(health.status, health.body);
    document.getElementById("updated").textContent =
      `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (err) {
    const pill = document.getElementById("health");
    pill.dataset.status = "bad";
    pill.textContent = "worker unreachable";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  refresh();
  setInterval(refresh, POLL_MS);
});
