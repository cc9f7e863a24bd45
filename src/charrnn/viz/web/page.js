"use strict";
const STATIC = /*STATIC*/false;
let D = null, layer = 0, unit = null, selTok = null, colourMode = "prob", acts = [], infl = null;

function $(id) { return document.getElementById(id); }
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
function act(l, i, u) { return acts[l][i * D.hidden + u] / 127; }
// A probability as the page prints it: three decimals, or the order of magnitude when that
// would read ".000" (0.00028 is "3e-4").
function fmtP(p) { return p >= 0.001 ? p.toFixed(3).replace(/^0\./, ".") : p.toExponential(0); }
// A number field: empty means "the server's default", never 0.
function numOrNull(id) { const v = $(id).value.trim(); return v === "" ? null : +v; }

function render(data) {
  D = data; unit = null; selTok = null; colourMode = "prob";
  acts = D.acts.map(s => decodeB64(s, Int8Array));
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
  const box = $("tokens"); box.innerHTML = "";
  const frag = document.createDocumentFragment();
  D.tokens.forEach((c, i) => {
    const t = document.createElement("span"); t.className = "tok"; t.dataset.i = i;
    t.dataset.p = D.probs[i];
    const cs = document.createElement("span"); cs.className = "c"; cs.textContent = shown(c);
    const ps = document.createElement("span"); ps.className = "p"; ps.textContent = fmtP(D.probs[i]);
    const ns = document.createElement("span"); ns.className = "n";
    ns.textContent = D.top[i].slice(0, 3).map(x => shown(x[0])).join("\n");
    ns.title = D.top[i].map(x => JSON.stringify(x[0]) + " " + x[1].toFixed(3)).join("\n");
    t.append(cs, ps, ns); frag.appendChild(t);
    if (c === "\n") { const b = document.createElement("span"); b.className = "brk"; frag.appendChild(b); }
  });
  box.appendChild(frag);
  colourText(); drawHeat(); fillTracking(); clearReach();
}
function clearReach() {
  raw = null; $("infl-legend").textContent = "";
  // A new reading: the curve of a character of the old text no longer applies.
  const cv = $("reach"); cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
  window.lastReach = null; $("reach-legend").textContent = "Click a character to see its reach.";
}

function colourText() {
  const toks = $("tokens").querySelectorAll(".tok");
  let note = "Colour: probability of each character (red = unlikely).";
  if (colourMode === "unit" && unit !== null) {
    note = "Colour: activation of unit " + unit + " of layer " + (layer + 1) +
           " after each character (red positive, blue negative). Click the heatmap to choose another.";
    toks.forEach((t, i) => { t.firstChild.style.background = actColour(act(layer, i, unit)); });
  } else {
    toks.forEach((t, i) => { t.firstChild.style.background = probColour(D.probs[i]); });
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
  const img = g.createImageData(N * cw, H * ch), px = img.data;
  for (let u = 0; u < H; u++) for (let i = 0; i < N; i++) {
    const a = act(layer, i, u);
    const r = a >= 0 ? 255 : Math.round(255 + 200 * a), gb = a >= 0 ? Math.round(255 - 200 * a) : r;
    const b = a >= 0 ? gb : 255;
    for (let y = u * ch; y < (u + 1) * ch; y++) for (let x = i * cw; x < (i + 1) * cw; x++) {
      const o = (y * img.width + x) * 4; px[o] = r; px[o + 1] = gb; px[o + 2] = b; px[o + 3] = 255;
    }
  }
  g.putImageData(img, LEFT, TOP);
  if (unit !== null) { g.strokeStyle = "#000"; g.strokeRect(LEFT, TOP + unit * ch, N * cw, ch); }
}

function chooseUnit(l, u) {
  layer = l; unit = u; colourMode = "unit"; $("layer").value = l; selTok = null;
  $("infl-legend").textContent = "";
  $("tokens").querySelectorAll(".tok.sel").forEach(t => t.classList.remove("sel"));
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
  if (!rows.length) { const li = document.createElement("li"); li.textContent = "(the property does not vary in this text)"; list.appendChild(li); }
  rows.forEach(([l, u, r]) => {
    const li = document.createElement("li"); li.className = "unit";
    li.textContent = "layer " + (l + 1) + " unit " + u + ": r = " + r.toFixed(2);
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
    const sw = document.createElement("span"); sw.className = "swatch inflsw";
    sw.style.background = inflColour(x); leg.append(sw, label);
  });
}
let raw = null;  // the last clicked prediction: [i, raw gradient norms (null: no input)]
async function showInfluence(i) {
  try {
    if (infl) {  // the export: each row scaled to its largest value, which travels beside it
      const top = D.influence.scale[i];
      raw = [i, Array.from(infl.rows.subarray(i * infl.w, (i + 1) * infl.w), v => v === 255 ? null : v / 254 * top)];
    } else {
      raw = [i, (await post("/api/influence", {text: $("text").value, index: i})).influence];
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
  const toks = $("tokens").querySelectorAll(".tok"), W = row.length;
  toks.forEach(t => t.classList.remove("sel"));
  toks[i].classList.add("sel"); selTok = i;
  toks.forEach((t, k) => { t.firstChild.style.background = "#fff"; });
  // Column W-1 is the input read just before predicting token i: token i-1 (or the boundary).
  for (let c = 0; c < W; c++) {
    const k = i - (W - c);
    if (row[c] === null) continue;
    if (k >= 0) toks[k].firstChild.style.background = inflColour(row[c]);
  }
  toks[i].firstChild.style.background = "#ffe680";
  $("colouring").textContent = "Influence on the prediction of character " + i +
    " (yellow): darker blue mattered more" + (absolute ? " (absolute scale)" : "") +
    ". Click the heatmap or a unit to go back to activations.";
}

const LAYER_COLOURS = ["#1f5fbf", "#d0671b", "#2a9d3a", "#8e3bb8", "#b8283b", "#666"];
// The reach view: one curve per layer of ||d log p / d h_(t-j)|| against j, log scale.
function drawReach(rows, i) {
  window.lastReach = rows;  // what the curve draws, for the tests to compare with the API
  const cv = $("reach"), g = cv.getContext("2d"), W = cv.width, Hc = cv.height;
  const ML = 48, MR = 12, MT = 12, MB = 34;
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, Hc);
  g.font = "11px sans-serif"; g.fillStyle = "#222";
  const vals = rows.flat().filter(v => v !== null && v > 0);
  if (!vals.length) {
    g.fillText("No earlier state: this is the first step (of the text or of the word).", ML, Hc / 2);
    $("reach-legend").textContent = ""; return;
  }
  let lo = Math.floor(Math.log10(Math.min(...vals))), hi = Math.ceil(Math.log10(Math.max(...vals)));
  if (hi === lo) hi = lo + 1;
  const J = rows[0].length;
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
  const leg = $("reach-legend"); leg.textContent = "Character " + i + " (" + JSON.stringify(D.tokens[i]) + "):";
  rows.forEach((row, l) => {
    const sw = document.createElement("span"); sw.className = "swatch";
    sw.style.background = LAYER_COLOURS[l % LAYER_COLOURS.length];
    const last = row.filter(v => v !== null);
    leg.append(sw, "layer " + (l + 1) + " (j = 0: " + fmtG(row[0]) + ", j = " + (last.length - 1) +
               ": " + fmtG(last[last.length - 1]) + ")");
  });
  leg.append(". Dashed: where the 1-hop rule stops; everything drawn is gradient only BPTT carries.");
}
function fmtG(v) { return v === null || v === undefined ? "none" : v.toExponential(2); }

async function showReach(i) {
  try {
    let rows;
    if (STATIC) {
      if (!D.reach) { $("reach-legend").textContent = "The reach of a text this long needs charrnn serve."; return; }
      rows = D.reach[i];
    } else {
      rows = (await post("/api/reach", {text: $("text").value, index: i})).reach;
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
    const data = await post("/api/read", {text: $("text").value}, ctl.signal);
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
  const t = ev.target.closest(".tok"); if (t) { showInfluence(+t.dataset.i); showReach(+t.dataset.i); }
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

if (STATIC) {
  $("input-box").hidden = true; $("live").hidden = true; $("static-note").hidden = false;
  render(JSON.parse($("data").textContent));
} else {
  $("text").addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(update, 200); });
  $("s-go").onclick = async () => {
    try {
      const j = await post("/api/sample", {prefix: $("s-prefix").value, temperature: numOrNull("s-temp"),
        top_k: numOrNull("s-topk") || null, n: numOrNull("s-n"),
        max_len: numOrNull("s-len") || null});
      showError(""); const ul = $("samples"); ul.innerHTML = "";
      j.samples.forEach(s => { const li = document.createElement("li"); li.textContent = s; ul.appendChild(li); });
    } catch (e) { showError(e.message); }
  };
  $("c-go").onclick = async () => {
    try {
      const j = await post("/api/complete", {prefix: $("c-prefix").value, k: numOrNull("c-k"),
        max_len: numOrNull("c-len") || null});
      showError(""); const ol = $("completions"); ol.innerHTML = "";
      $("c-method").textContent = (j.method === "exact" ? "exact: proved the most likely" : "beam search") +
        " (" + j.expanded + " steps, " + Math.round(j.seconds * 1000) + " ms)" + (j.note ? "; " + j.note : "");
      j.completions.forEach(c => {
        const li = document.createElement("li"), t = document.createElement("span"),
              p = document.createElement("span");
        t.className = "ctext"; t.textContent = JSON.stringify(c.text);
        p.className = "cprob";
        p.textContent = " " + (c.prob >= 1e-3 ? c.prob.toFixed(4) : c.prob.toExponential(2));
        li.append(t, p); ol.appendChild(li);
      });
    } catch (e) { showError(e.message); }
  };
  const first = JSON.parse($("first").textContent);
  $("text").value = first; update();
}
