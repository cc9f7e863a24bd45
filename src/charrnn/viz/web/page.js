"use strict";
const STATIC = /*STATIC*/false;
let D = null, layer = 0, unit = null, selTok = null, colourMode = "prob", acts = [], infl = null;
// The models served (name, one line, whether its run can be watched); one unless compared.
let MODELS = [], which = 0;
// The characters drawn: one element per character of the text (a jamo syllable is one in
// the long-text strip), and for each the tokens [first, end) it stands for.
let cells = [], groups = [], tokGroup = null, strip = false;
const STRIP_AT = 300;  // tokens from which the text is drawn as a compact strip

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function showError(msg) { $("error").textContent = msg || ""; }
function shown(c) { return c === "\n" ? "\u23ce" : (c === " " ? "\u2423" : c); }
function decodeB64(s, Type) {
  const bin = atob(s), buf = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
  return new Type(buf.buffer);
}
async function post(path, body, signal) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body), signal: signal});
  let j;
  try { j = await r.json(); } catch (e) { throw new Error("the server sent no answer (" + r.status + ")"); }
  if (!r.ok || j.error) throw new Error(j.error || ("status " + r.status));
  return j;
}
function probColour(p) {
  // Unlikely characters red, likely ones white: on a log scale, 1e-3 is full red.
  const x = Math.max(0, Math.min(1, -Math.log10(Math.max(p, 1e-12)) / 3));
  return "rgb(255," + Math.round(255 - 150 * x) + "," + Math.round(255 - 150 * x) + ")";
}
function actColour(a) {
  const x = Math.max(-1, Math.min(1, a));
  return x >= 0 ? "rgb(255," + Math.round(255 - 200 * x) + "," + Math.round(255 - 200 * x) + ")"
                : "rgb(" + Math.round(255 + 200 * x) + "," + Math.round(255 + 200 * x) + ",255)";
}
function inflColour(v) {
  return "rgb(" + Math.round(255 - 200 * v) + "," + Math.round(255 - 150 * v) + ",255)";
}
// A layer's activations, decoded when first drawn (a long text's other layers may never be).
function layerActs(l) {
  if (acts[l] === null) acts[l] = decodeB64(D.acts[l], Int8Array);
  return acts[l];
}
function act(l, i, u) { return layerActs(l)[i * D.hidden + u] / 127; }
// A probability as the page prints it: three decimals, or the order of magnitude when that
// would read ".000" (0.00028 is "3e-4").
function fmtP(p) { return p >= 0.001 ? p.toFixed(3).replace(/^0\./, ".") : p.toExponential(0); }
function fmtG(v) { return v === null || v === undefined ? "none" : v.toExponential(2); }
// A number field: empty means "the server's default", never 0.
function numOrNull(id) { const v = $(id).value.trim(); return v === "" ? null : +v; }
function comparing() { return MODELS.length > 1; }
// The fields every single-model request carries: which model, and in a comparison, leave
// out what it cannot read (as its column does).
function modelFields() { return comparing() ? {model: which, skip: true} : {}; }

// ---------------------------------------------------------------- the text, read by the model

function groupProb(g) {
  let p = 1;
  for (let t = groups[g][0]; t < groups[g][1]; t++) p *= D.probs[t];
  return p;
}
function render(data) {
  D = data; unit = null; selTok = null; colourMode = "prob";
  acts = D.acts.map(() => null);
  infl = D.influence ? {w: D.influence.window, rows: decodeB64(D.influence.rows, Uint8Array)} : null;
  $("model").textContent = D.model;
  $("window").textContent = D.window;
  const sel = $("layer"); sel.innerHTML = "";
  for (let l = 0; l < D.layers; l++) {
    const o = document.createElement("option"); o.value = l; o.textContent = "layer " + (l + 1);
    sel.appendChild(o);
  }
  layer = Math.max(0, Math.min(layer, D.layers - 1)); sel.value = layer;
  $("tokens").classList.remove("stale");
  strip = D.tokens.length > STRIP_AT;
  if (strip) drawStrip(); else drawBoxes();
  colourText(); drawHeat(); fillTracking(); clearReach();
}
// Short texts: one box per character, with its probability and the three likeliest next.
function drawBoxes() {
  const box = $("tokens"); box.innerHTML = ""; box.classList.remove("strip");
  const frag = document.createDocumentFragment();
  cells = []; groups = []; tokGroup = new Int32Array(D.tokens.length);
  D.tokens.forEach((c, i) => {
    const t = el("span", "tok"); t.dataset.i = i; t.dataset.p = D.probs[i];
    const cs = el("span", "c", shown(c)), ps = el("span", "p", fmtP(D.probs[i]));
    const ns = el("span", "n", D.top[i].slice(0, 3).map(x => shown(x[0])).join("\n"));
    ns.title = D.top[i].map(x => JSON.stringify(x[0]) + " " + x[1].toFixed(3)).join("\n");
    t.append(cs, ps, ns); frag.appendChild(t);
    cells.push(cs); groups.push([i, i + 1]); tokGroup[i] = i;
    if (c === "\n") frag.appendChild(el("span", "brk"));
  });
  box.appendChild(frag);
}
// Long texts: Karpathy's strip, the characters on their colour, one line per line of text,
// the numbers on hover. A jamo model's syllables are composed, each from its jamo.
function drawStrip() {
  const box = $("tokens"); box.innerHTML = ""; box.classList.add("strip");
  const N = D.tokens.length, starts = D.starts;
  cells = []; groups = []; tokGroup = new Int32Array(N);
  if (starts) {
    starts.forEach((s, k) => groups.push([s, k + 1 < starts.length ? starts[k + 1] : N]));
  } else {
    for (let i = 0; i < N; i++) groups.push([i, i + 1]);
  }
  const frag = document.createDocumentFragment();
  let line = el("div", "sline");
  groups.forEach(([a, b], g) => {
    for (let t = a; t < b; t++) tokGroup[t] = g;
    const text = D.tokens.slice(a, b).join("").normalize("NFC");
    const s = el("span", "sc", text === "\n" ? "\u23ce" : text);
    s.g = g;  // its group (a property, not an attribute: cheaper on 20,000 of them)
    line.appendChild(s); cells.push(s);
    if (text === "\n") { frag.appendChild(line); line = el("div", "sline"); }
  });
  frag.appendChild(line);
  box.appendChild(frag);
}
function stripTitle(g) {
  const [a, b] = groups[g], text = D.tokens.slice(a, b).join("");
  let head = JSON.stringify(text.normalize("NFC")) + ": p = " + fmtP(groupProb(g));
  if (b - a > 1) head += " = " + D.tokens.slice(a, b).map((c, k) => c + " " + fmtP(D.probs[a + k])).join(" \u00d7 ");
  return head + "\nnext: " + D.top[b - 1].map(x => JSON.stringify(x[0]) + " " + fmtP(x[1])).join(", ");
}
function selElement(g) { return strip ? cells[g] : cells[g].parentNode; }
function clearSelection() {
  $("tokens").querySelectorAll(".sel").forEach(t => t.classList.remove("sel"));
}
function clearReach() {
  raw = null; $("infl-legend").textContent = "";
  // A new reading: the curve of a character of the old text no longer applies.
  const cv = $("reach"); cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
  window.lastReach = null; $("reach-legend").textContent = "Click a character to see its reach.";
}

function colourText() {
  let note = "Colour: probability of each character (red = unlikely).";
  if (strip) note += " Hover over a character for its numbers and the likeliest next ones.";
  if (colourMode === "unit" && unit !== null) {
    note = "Colour: activation of unit " + unit + " of layer " + (layer + 1) +
           " after each character (red positive, blue negative). Click the heatmap to choose another.";
    cells.forEach((c, g) => { c.style.background = actColour(act(layer, groups[g][1] - 1, unit)); });
  } else {
    cells.forEach((c, g) => { c.style.background = probColour(groupProb(g)); });
  }
  $("colouring").textContent = note;
}

// The heatmap's margins: unit numbers on the left, characters (or their index) on top.
const LEFT = 34, TOP = 16;
function drawHeat() {
  const N = D.tokens.length, H = D.hidden, cv = $("heat");
  const cw = Math.max(1, Math.min(24, Math.floor(1000 / Math.max(N, 1))));
  // Rows at least 4 px: clickable at any H (the box scrolls when they do not fit).
  const ch = Math.max(4, Math.min(10, Math.floor(600 / H)));
  cv.width = LEFT + Math.max(1, N * cw); cv.height = TOP + H * ch;
  Object.assign(cv.dataset, {ch: ch, cw: cw, top: TOP, left: LEFT});
  const g = cv.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, cv.width, cv.height);
  g.fillStyle = "#222"; g.font = "10px monospace"; g.textBaseline = "middle";
  const ustep = [1, 2, 5, 10, 20, 50].find(s => s * ch >= 11) || 100;
  g.textAlign = "right";
  for (let u = 0; u < H; u += ustep) g.fillText(String(u), LEFT - 3, TOP + (u + 0.5) * ch);
  g.textAlign = "center";
  if (cw >= 7) D.tokens.forEach((c, i) => g.fillText(shown(c), LEFT + (i + 0.5) * cw, TOP / 2));
  else {
    const istep = [5, 10, 20, 50, 100, 200, 500, 1000].find(s => s * cw >= 40) || 2000;
    for (let i = 0; i < N; i += istep) g.fillText(String(i), LEFT + i * cw, TOP / 2);
  }
  if (!N) return;
  // One pixel per (unit, character), then scaled up without smoothing: the work is N x H
  // whatever the size of a cell.
  const small = document.createElement("canvas"); small.width = N; small.height = H;
  const img = small.getContext("2d").createImageData(N, H), px = img.data, a8 = layerActs(layer);
  for (let i = 0; i < N; i++) for (let u = 0; u < H; u++) {
    const a = a8[i * H + u] / 127, o = (u * N + i) * 4;
    const r = a >= 0 ? 255 : Math.round(255 + 200 * a), gb = a >= 0 ? Math.round(255 - 200 * a) : r;
    px[o] = r; px[o + 1] = gb; px[o + 2] = a >= 0 ? gb : 255; px[o + 3] = 255;
  }
  small.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(small, LEFT, TOP, N * cw, H * ch);
  if (unit !== null) { g.strokeStyle = "#000"; g.strokeRect(LEFT, TOP + unit * ch, N * cw, ch); }
}

function chooseUnit(l, u) {
  layer = l; unit = u; colourMode = "unit"; $("layer").value = l; selTok = null;
  $("infl-legend").textContent = "";
  clearSelection();
  $("unitinfo").textContent = "unit " + u + " of layer " + (l + 1);
  drawHeat(); colourText();
}

function fillTracking() {
  const sel = $("prop");
  if (!sel.options.length) Object.keys(D.properties).forEach(p => {
    const o = document.createElement("option"); o.value = p; o.textContent = p; sel.appendChild(o);
  });
  const p = sel.value, list = $("tracking"); list.innerHTML = "";
  $("propdesc").textContent = D.properties[p] +
    ". Units ranked by the correlation of their activation with it, over this text.";
  const rows = D.tracking[p] || [];
  if (!rows.length) list.appendChild(el("li", "", "(the property does not vary in this text)"));
  rows.forEach(([l, u, r]) => {
    const li = el("li", "unit", "layer " + (l + 1) + " unit " + u + ": r = " + r.toFixed(2));
    li.onclick = () => chooseUnit(l, u); list.appendChild(li);
  });
}

// The absolute scale of influence: one fixed log scale for every prediction, 1e-3 to 10
// (the gradient norm of a logit with respect to a one-hot input rarely leaves it).
const ABS_LO = -3, ABS_HI = 1;
function absShade(v) { return Math.max(0, Math.min(1, (Math.log10(Math.max(v, 1e-30)) - ABS_LO) / (ABS_HI - ABS_LO))); }
function inflLegend(absolute, top) {
  const leg = $("infl-legend"); leg.textContent = "";
  const stops = absolute ? [ABS_LO, -2, -1, 0, ABS_HI].map(d => [absShade(10 ** d), String(10 ** d)])
                         : [[0, "0"], [0.5, "half"], [1, "largest in this prediction (" + fmtG(top) + ")"]];
  stops.forEach(([x, label]) => {
    const sw = el("span", "swatch inflsw"); sw.style.background = inflColour(x); leg.append(sw, label);
  });
}
let raw = null;  // the last clicked prediction: [i, raw gradient norms (null: no input)]
async function showInfluence(i) {
  try {
    if (infl) {  // the export: each row scaled to its largest value, which travels beside it
      const top = D.influence.scale[i];
      raw = [i, Array.from(infl.rows.subarray(i * infl.w, (i + 1) * infl.w), v => v === 255 ? null : v / 254 * top)];
    } else {
      raw = [i, (await post("/api/influence", {text: $("text").value, index: i, ...modelFields()})).influence];
    }
  } catch (e) { showError(e.message); return; }
  showError("");
  shadeInfluence();
}
function shadeInfluence() {
  const [i, values] = raw, absolute = $("infl-abs").checked;
  const top = Math.max(...values.filter(v => v !== null), 1e-12);
  window.lastInfluence = values;
  const row = values.map(v => v === null ? null : (absolute ? absShade(v) : v / top));
  inflLegend(absolute, top);
  clearSelection();
  const g0 = tokGroup[i];
  selElement(g0).classList.add("sel"); selTok = i;
  const shade = new Float64Array(cells.length).fill(-1);
  // Column W-1 is the input read just before predicting token i: token i-1 (or the boundary).
  const W = row.length;
  for (let c = 0; c < W; c++) {
    const k = i - (W - c);
    if (row[c] === null || k < 0) continue;
    const g = tokGroup[k];
    shade[g] = Math.max(shade[g], row[c]);  // a syllable: its most influential jamo
  }
  cells.forEach((c, g) => { c.style.background = shade[g] >= 0 ? inflColour(shade[g]) : "#fff"; });
  cells[g0].style.background = "#ffe680";
  $("colouring").textContent = "Influence on the prediction of character " + i +
    " (yellow): darker blue mattered more" + (absolute ? " (absolute scale)" : "") +
    ". Click the heatmap or a unit to go back to activations.";
}

const LAYER_COLOURS = ["#1f5fbf", "#d0671b", "#2a9d3a", "#8e3bb8", "#b8283b", "#666"];
// The log range of a set of reach curves: a shared one lets columns be compared.
function reachRange(rowsList) {
  const vals = rowsList.flat(2).filter(v => v !== null && v > 0);
  if (!vals.length) return null;
  let lo = Math.floor(Math.log10(Math.min(...vals))), hi = Math.ceil(Math.log10(Math.max(...vals)));
  if (hi === lo) hi = lo + 1;
  return [lo, hi];
}
// The reach view: one curve per layer of ||d log p / d h_(t-j)|| against j, log scale.
function drawReachOn(cv, leg, rows, title, range) {
  const g = cv.getContext("2d"), W = cv.width, Hc = cv.height;
  const ML = 48, MR = 12, MT = 12, MB = 34;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, Hc);
  g.font = "11px sans-serif"; g.fillStyle = "#222";
  range = range || reachRange([rows]);
  if (!range) {
    g.fillText("No earlier state: this is the first step (of the text or of the word).", 8, Hc / 2);
    leg.textContent = ""; return;
  }
  const [lo, hi] = range, J = rows[0].length;
  const x = j => ML + (W - ML - MR) * j / Math.max(J - 1, 1);
  const y = v => MT + (Hc - MT - MB) * (hi - Math.log10(v)) / (hi - lo);
  const dstep = Math.max(1, Math.ceil((hi - lo) / 6));
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let d = lo; d <= hi; d += dstep) {
    g.strokeStyle = "#e4e4e4"; g.beginPath(); g.moveTo(ML, y(10 ** d)); g.lineTo(W - MR, y(10 ** d)); g.stroke();
    g.fillText("1e" + d, ML - 4, y(10 ** d));
  }
  g.textAlign = "center"; g.textBaseline = "top";
  for (let j = 0; j < J; j += 8) g.fillText(String(j), x(j), Hc - MB + 4);
  g.fillText("j: steps back from the predicting step", (ML + W - MR) / 2, Hc - 14);
  // The horizon of the 1-hop rule: it passes no gradient to any carried state (j >= 0).
  g.strokeStyle = "#000"; g.setLineDash([4, 3]); g.beginPath();
  g.moveTo(x(0), MT); g.lineTo(x(0), Hc - MB); g.stroke(); g.setLineDash([]);
  rows.forEach((row, l) => {
    g.strokeStyle = LAYER_COLOURS[l % LAYER_COLOURS.length]; g.lineWidth = 2; g.beginPath();
    let pen = false;
    row.forEach((v, j) => {
      if (v === null || v <= 0) { pen = false; return; }
      if (pen) g.lineTo(x(j), y(v)); else g.moveTo(x(j), y(v));
      pen = true;
    });
    g.stroke(); g.lineWidth = 1;
  });
  leg.textContent = title;
  rows.forEach((row, l) => {
    const sw = el("span", "swatch"); sw.style.background = LAYER_COLOURS[l % LAYER_COLOURS.length];
    const last = row.filter(v => v !== null);
    leg.append(sw, "layer " + (l + 1) + " (j = 0: " + fmtG(row[0]) + ", j = " + (last.length - 1) +
               ": " + fmtG(last[last.length - 1]) + ")");
  });
  leg.append(". Dashed: where the 1-hop rule stops; everything drawn is gradient only BPTT carries.");
}
function drawReach(rows, i) {
  window.lastReach = rows;  // what the curve draws, for the tests to compare with the API
  drawReachOn($("reach"), $("reach-legend"), rows, "Character " + i + " (" + JSON.stringify(D.tokens[i]) + "):");
}

async function showReach(i) {
  try {
    let rows;
    if (STATIC) {
      if (!D.reach) { $("reach-legend").textContent = "The reach of a text this long needs charrnn serve."; return; }
      rows = D.reach[i];
    } else {
      rows = (await post("/api/reach", {text: $("text").value, index: i, ...modelFields()})).reach;
    }
    drawReach(rows, i);
  } catch (e) { showError(e.message); }
}

let pending = null, seq = 0, inflight = null;
async function update() {
  // A newer text supersedes the reading in flight: abort it (its answer is of no use).
  const my = ++seq, t0 = performance.now();
  if (inflight) inflight.abort();
  const ctl = inflight = new AbortController();
  try {
    const data = await post("/api/read", {text: $("text").value, ...modelFields()}, ctl.signal);
    if (my !== seq) return;
    showError(""); render(data);
    $("timing").textContent = D.tokens.length + " characters; page updated in " +
      Math.round(performance.now() - t0) + " ms (server " + Math.round(data.seconds * 1000) + " ms)";
  } catch (e) {
    if (my !== seq || e.name === "AbortError") return;
    // The reading shown is of an older text: say so, and dim it.
    showError(e.message); $("tokens").classList.add("stale");
  } finally { if (inflight === ctl) inflight = null; }
}

$("tokens").addEventListener("click", ev => {
  const t = ev.target.closest(".tok, .sc");
  if (!t) return;
  const i = t.classList.contains("tok") ? +t.dataset.i : groups[t.g][0];
  showInfluence(i); showReach(i);
});
// The strip's numbers are written on hover only: 20,000 titles would slow every redraw.
$("tokens").addEventListener("mouseover", ev => {
  const t = ev.target.closest(".sc");
  if (t && !t.title) t.title = stripTitle(t.g);
});
function heatCell(ev) {
  // The unit and character under the mouse (the canvas is drawn at its own pixel size).
  const cv = ev.target, r = cv.getBoundingClientRect();
  return [Math.floor((ev.clientY - r.top - TOP) / +cv.dataset.ch),
          Math.floor((ev.clientX - r.left - LEFT) / +cv.dataset.cw)];
}
$("heat").addEventListener("click", ev => {
  const [u] = heatCell(ev);
  if (u >= 0 && u < D.hidden) chooseUnit(layer, u);
});
$("heat").addEventListener("mousemove", ev => {
  const cv = ev.target, [u, i] = heatCell(ev);
  if (u >= 0 && u < D.hidden && i >= 0 && i < D.tokens.length)
    cv.title = "unit " + u + " after " + JSON.stringify(D.tokens[i]) + ": " + act(layer, i, u).toFixed(2);
});
$("layer").addEventListener("change", () => { layer = +$("layer").value; drawHeat(); colourText(); });
$("prop").addEventListener("change", fillTracking);
$("infl-abs").addEventListener("change", () => { if (raw && selTok === raw[0]) shadeInfluence(); });

// ---------------------------------------------------------------- side by side

let C = null, cAt = null, cSeq = 0, cInflight = null, rSeq = 0, rInflight = null;
// A column's characters in the order of the shared text: a group of tokens per character
// it reads (a syllable's jamo together), and the characters it cannot read.
function columnGroups(col) {
  const out = [], bad = new Set(col.unreadable);
  let t = 0;
  for (let k = 0; k <= C.text.length; k++) {
    if (bad.has(k)) { out.push({at: k, unread: true}); continue; }
    const a = t;
    while (t < col.src.length && col.src[t] === k) t++;
    if (t > a) out.push({at: k, a: a, b: t});
  }
  return out;
}
function colProb(col, g) {
  let p = 1;
  for (let t = g.a; t < g.b; t++) p *= col.probs[t];
  return p;
}
function renderCompare(data) {
  C = data; cAt = null; rSeq++; window.lastCompareReach = null;
  const box = $("columns"); box.innerHTML = "";
  C.columns.forEach((col, c) => {
    const div = el("div", "col"); div.dataset.c = c;
    div.append(el("h3", "", col.name), el("div", "legend", col.model));
    const loss = col.loss === null ? "reads none of this text" :
      "mean loss " + col.loss.toFixed(3) + " nats per character over the " + col.chars + " it reads";
    const skipped = col.unreadable.length ? "; cannot read " + col.unreadable.length +
      " (" + col.unknown.map(c => JSON.stringify(c)).join(" ") + ")" : "";
    div.append(el("div", "legend closs", loss + skipped));
    const s = el("div", "strip cstrip");
    col.groups = columnGroups(col); col.byAt = new Map();
    let line = el("div", "sline");
    col.groups.forEach((g, n) => {
      const ch = g.at < C.text.length ? C.text[g.at] : "\n";
      const span = el("span", "sc" + (g.unread ? " unread" : ""), ch === "\n" ? "\u23ce" : ch);
      span.dataset.at = g.at; span.dataset.n = n;
      if (g.unread) span.title = JSON.stringify(ch) + " is not in this model's vocabulary: it reads the text without it";
      else span.style.background = probColour(colProb(col, g));
      line.appendChild(span); col.byAt.set(g.at, span);
      if (ch === "\n") { s.appendChild(line); line = el("div", "sline"); }
    });
    s.appendChild(line);
    const pick = el("div", "pick", "Click a character.");
    const cv = el("canvas", "creach"); cv.width = 460; cv.height = 200;
    div.append(s, pick, cv, el("div", "legend creach-legend"), el("div", "cerr"), el("ol", "ccompl"));
    box.appendChild(div);
  });
  window.lastCompare = C;
}
function colTitle(col, g) {
  const ch = g.at < C.text.length ? C.text[g.at] : "\n";
  if (g.unread) return JSON.stringify(ch) + ": not in this model's vocabulary";
  let s = JSON.stringify(ch) + ": p = " + fmtP(colProb(col, g));
  if (g.b - g.a > 1) s += " = " + col.tokens.slice(g.a, g.b).map((c, k) => c + " " + fmtP(col.probs[g.a + k])).join(" \u00d7 ");
  return s + "\nnext: " + col.top[g.b - 1].map(x => JSON.stringify(x[0]) + " " + fmtP(x[1])).join(", ");
}
$("columns").addEventListener("mouseover", ev => {
  const t = ev.target.closest(".sc"), div = ev.target.closest(".col");
  if (t && div && !t.title) t.title = colTitle(C.columns[+div.dataset.c], C.columns[+div.dataset.c].groups[+t.dataset.n]);
});
$("columns").addEventListener("click", ev => {
  const t = ev.target.closest(".sc");
  if (t) selectAt(+t.dataset.at);
});
// What a column says of the character at ``at``: its probability, and what the model
// expected there (its likeliest guesses after the token before).
function pickText(col, at) {
  const span = col.byAt.get(at);
  const g = span ? col.groups[+span.dataset.n] : null;
  const ch = at < C.text.length ? C.text[at] : "\n";
  if (!g) return JSON.stringify(ch) + ": no token here";
  if (g.unread) return JSON.stringify(ch) + ": this model cannot read it";
  let s = JSON.stringify(ch) + ": p = " + fmtP(colProb(col, g));
  if (g.a > 0) s += "; expected " + col.top[g.a - 1].map(x => JSON.stringify(x[0]) + " " + fmtP(x[1])).join(", ");
  return s;
}
async function selectAt(at) {
  cAt = at;
  const my = ++rSeq, cols = $("columns").querySelectorAll(".col");
  cols.forEach((div, c) => {
    div.querySelectorAll(".sc.sel").forEach(s => s.classList.remove("sel"));
    const col = C.columns[c], span = col.byAt.get(at);
    if (span) span.classList.add("sel");
    div.querySelector(".pick").textContent = pickText(col, at);
  });
  let answer;
  try {
    if (STATIC) {
      if (!C.reach) { cols.forEach(d => { d.querySelector(".creach-legend").textContent = "The reach of a text this long needs charrnn serve."; }); return; }
      answer = {columns: C.reach[at]};
    } else {
      if (rInflight) rInflight.abort();
      rInflight = new AbortController();
      answer = await post("/api/compare/reach", {text: $("text").value, at: at}, rInflight.signal);
    }
  } catch (e) { if (e.name !== "AbortError" && my === rSeq) showError(e.message); return; }
  if (my !== rSeq) return;
  showError("");
  const range = reachRange(answer.columns.filter(r => r.reach).map(r => r.reach));
  answer.columns.forEach((r, c) => {
    const div = cols[c], cv = div.querySelector(".creach"), leg = div.querySelector(".creach-legend");
    if (!r.reach) { cv.getContext("2d").clearRect(0, 0, cv.width, cv.height); leg.textContent = "No reach: " + r.why + "."; return; }
    drawReachOn(cv, leg, r.reach, "Character " + at + ":", range);
  });
  window.lastCompareReach = answer.columns;
}
async function updateCompare() {
  const my = ++cSeq;
  if (cInflight) cInflight.abort();
  const ctl = cInflight = new AbortController();
  try {
    const data = await post("/api/compare", {text: $("text").value}, ctl.signal);
    if (my !== cSeq) return;
    $("columns").classList.remove("stale");
    renderCompare(data);
  } catch (e) {
    if (my !== cSeq || e.name === "AbortError") return;
    showError(e.message); $("columns").classList.add("stale");
  } finally { if (cInflight === ctl) cInflight = null; }
}
async function completeEvery() {
  const prefix = $("x-prefix").value, cols = $("columns").querySelectorAll(".col");
  await Promise.all(MODELS.map(async (m, c) => {
    const ol = cols[c].querySelector(".ccompl"), err = cols[c].querySelector(".cerr");
    ol.innerHTML = ""; err.textContent = "";
    try {
      const j = await post("/api/complete", {model: c, prefix: prefix, k: 5});
      j.completions.forEach(x => ol.appendChild(el("li", "", JSON.stringify(x.text) + " " + fmtP(x.prob))));
    } catch (e) { err.textContent = e.message; }
  }));
}
function startCompare() {
  $("compare").hidden = false; $("which-box").hidden = false;
  const sel = $("which");
  MODELS.forEach((m, c) => {
    const o = document.createElement("option"); o.value = c; o.textContent = m.name; sel.appendChild(o);
  });
  sel.addEventListener("change", () => { which = +sel.value; update(); });
  $("x-go").onclick = completeEvery;
}

// ---------------------------------------------------------------- watching a run learn

const POLL_MS = 2000;
let liveTemp = 1.0, liveTemps = [1.0], liveSteps = {};
window.lastLive = {};
function drawCurves(cv, ans) {
  const g = cv.getContext("2d"), W = cv.width, Hc = cv.height, ML = 48, MR = 12, MT = 12, MB = 34;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, Hc);
  g.font = "11px sans-serif"; g.fillStyle = "#222";
  const pts = ans.train.concat(ans.val);
  if (!pts.length) { g.fillText("No loss logged yet.", ML, Hc / 2); return; }
  const s0 = Math.min(...pts.map(p => p[0])), s1 = Math.max(s0 + 1, ...pts.map(p => p[0]));
  let lo = Math.min(...pts.map(p => p[1])), hi = Math.max(...pts.map(p => p[1]));
  if (hi - lo < 1e-6) { lo -= 0.5; hi += 0.5; }
  const x = s => ML + (W - ML - MR) * (s - s0) / (s1 - s0), y = v => MT + (Hc - MT - MB) * (hi - v) / (hi - lo);
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let k = 0; k <= 4; k++) {
    const v = lo + (hi - lo) * k / 4;
    g.strokeStyle = "#e4e4e4"; g.beginPath(); g.moveTo(ML, y(v)); g.lineTo(W - MR, y(v)); g.stroke();
    g.fillText(v.toFixed(2), ML - 4, y(v));
  }
  g.textAlign = "center"; g.textBaseline = "top";
  // Steps at round numbers: 1, 2 or 5 times a power of ten apart, about five of them.
  const raw = (s1 - s0) / 5, mag = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const tick = [1, 2, 5, 10].map(m => m * mag).find(t => t >= raw);
  for (let s = Math.ceil(s0 / tick) * tick; s <= s1; s += tick) g.fillText(String(s), x(s), Hc - MB + 4);
  g.fillText("step (loss in nats per character)", (ML + W - MR) / 2, Hc - 14);
  [[ans.train, "#1f5fbf"], [ans.val, "#d0671b"]].forEach(([series, colour]) => {
    g.strokeStyle = colour; g.fillStyle = colour; g.lineWidth = 2; g.beginPath();
    series.forEach((p, k) => { if (k) g.lineTo(x(p[0]), y(p[1])); else g.moveTo(x(p[0]), y(p[1])); });
    g.stroke(); g.lineWidth = 1;
    if (series.length === 1) g.fillRect(x(series[0][0]) - 2, y(series[0][1]) - 2, 5, 5);
  });
}
function renderLive(c, ans) {
  window.lastLive[c] = ans;
  let div = $("runs").querySelector('.run[data-c="' + c + '"]');
  if (!div) {
    div = el("div", "run"); div.dataset.c = c;
    const cv = el("canvas", "curves"); cv.width = 640; cv.height = 220;
    div.append(el("h3", "", MODELS[c].name), el("div", "legend status"), cv,
               el("div", "legend curve-legend"), el("ol", "ckpts"));
    $("runs").appendChild(div);
  }
  drawCurves(div.querySelector(".curves"), ans);
  const last = ans.last, idle = ans.idle;
  let status = last ? "step " + last.step + ": train " + last.train.toFixed(4) +
    (last.val !== null ? ", validation " + last.val.toFixed(4) : "") : "no loss logged yet";
  if (idle !== null) status += idle < 60 ? "; the log grew " + Math.round(idle) + " s ago"
                                         : "; the log has not changed for " + Math.round(idle / 60) + " min";
  if (ans.model_step !== null) status += "; the views above read the model of step " + ans.model_step;
  div.querySelector(".status").textContent = status;
  const leg = div.querySelector(".curve-legend"); leg.textContent = "";
  [["#1f5fbf", "training loss"], ["#d0671b", "validation loss"]].forEach(([colour, label]) => {
    const sw = el("span", "swatch"); sw.style.background = colour; leg.append(sw, label);
  });
  const ol = div.querySelector(".ckpts"); ol.innerHTML = "";
  if (!ans.checkpoints.length) ol.appendChild(el("li", "", "no checkpoint yet"));
  ans.checkpoints.forEach(ck => {
    const li = el("li", "ckpt");
    li.append(el("div", "ck-head", "step " + ck.step + " (" + ck.files.join(", ") + ", " +
                 Math.round(ck.elapsed) + " s of training)"));
    li.append(el("div", "ck-greedy", "greedy: " + ck.greedy));
    const ul = el("ul", "ck-samples" + (ans.mode === "words" ? " inline" : ""));
    ck.samples.forEach(s => ul.appendChild(el("li", "", s)));
    li.appendChild(ul); ol.appendChild(li);
  });
}
async function pollLive() {
  let changed = false;
  await Promise.all(MODELS.map(async (m, c) => {
    if (!m.live) return;
    try {
      const ans = await post("/api/live", {model: c, temperature: liveTemp});
      renderLive(c, ans);
      if (!$("t-temp").dataset.ready) {  // the temperatures the server samples at
        const t = $("t-temp"); liveTemps = ans.temperatures; t.dataset.ready = "1";
        t.max = liveTemps.length - 1; t.value = liveTemps.indexOf(ans.temperature);
      }
      // A newer model of the run: the views above read it again.
      if (c in liveSteps && liveSteps[c] !== ans.model_step) changed = true;
      liveSteps[c] = ans.model_step;
    } catch (e) { showError(e.message); }
  }));
  if (changed) { update(); if (comparing()) updateCompare(); }
}
let liveTimer = null;
function scheduleLive() {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(async () => { if (!document.hidden) await pollLive(); scheduleLive(); }, POLL_MS);
}
function startLive() {
  $("training").hidden = false; $("training-note").hidden = false;
  $("t-temp-value").textContent = "T = " + liveTemp;
  $("t-temp").addEventListener("input", () => {
    liveTemp = liveTemps[+$("t-temp").value]; $("t-temp-value").textContent = "T = " + liveTemp;
  });
  $("t-temp").addEventListener("change", () => { pollLive(); });
  pollLive().then(scheduleLive);
}

// ---------------------------------------------------------------- start

if (STATIC) {
  $("input-box").hidden = true; $("live").hidden = true; $("static-note").hidden = false;
  const data = JSON.parse($("data").textContent);
  if (data.compare) {
    MODELS = data.compare.columns.map(c => ({name: c.name, live: false}));
    $("compare").hidden = false; $("x-go").parentNode.hidden = true;
    renderCompare(data.compare);
  }
  render(data);
} else {
  MODELS = JSON.parse($("models").textContent);
  if (!MODELS.length) MODELS = [{name: "model", live: false}];
  if (comparing()) startCompare();
  $("text").addEventListener("input", () => {
    // A pause before reading: a long text waits for a typing burst to end; a short one,
    // cheap to read, hardly waits (a newer reading aborts the one in flight anyway).
    clearTimeout(pending);
    const pause = $("text").value.length > 2000 ? 200 : 50;
    pending = setTimeout(() => { update(); if (comparing()) updateCompare(); }, pause);
  });
  $("s-go").onclick = async () => {
    try {
      const j = await post("/api/sample", {prefix: $("s-prefix").value, temperature: numOrNull("s-temp"),
        top_k: numOrNull("s-topk") || null, n: numOrNull("s-n"),
        max_len: numOrNull("s-len") || null, ...(comparing() ? {model: which} : {})});
      showError(""); const ul = $("samples"); ul.innerHTML = "";
      j.samples.forEach(s => ul.appendChild(el("li", "", s)));
    } catch (e) { showError(e.message); }
  };
  $("c-go").onclick = async () => {
    try {
      const j = await post("/api/complete", {prefix: $("c-prefix").value, k: numOrNull("c-k"),
        max_len: numOrNull("c-len") || null, ...(comparing() ? {model: which} : {})});
      showError(""); const ol = $("completions"); ol.innerHTML = "";
      $("c-method").textContent = (j.method === "exact" ? "exact: proved the most likely" : "beam search") +
        " (" + j.expanded + " steps, " + Math.round(j.seconds * 1000) + " ms)" + (j.note ? "; " + j.note : "");
      j.completions.forEach(c => {
        const li = el("li"), t = el("span", "ctext", JSON.stringify(c.text));
        const p = el("span", "cprob", " " + (c.prob >= 1e-3 ? c.prob.toFixed(4) : c.prob.toExponential(2)));
        li.append(t, p); ol.appendChild(li);
      });
    } catch (e) { showError(e.message); }
  };
  const first = JSON.parse($("first").textContent);
  $("text").value = first; update();
  if (comparing()) updateCompare();
  if (MODELS.some(m => m.live)) startLive();
}
