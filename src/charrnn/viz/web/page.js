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
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
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
  layer = Math.min(layer, D.layers - 1); sel.value = layer;
  const box = $("tokens"); box.innerHTML = "";
  const frag = document.createDocumentFragment();
  D.tokens.forEach((c, i) => {
    const t = document.createElement("span"); t.className = "tok"; t.dataset.i = i;
    t.dataset.p = D.probs[i];
    const cs = document.createElement("span"); cs.className = "c"; cs.textContent = shown(c);
    const ps = document.createElement("span"); ps.className = "p"; ps.textContent = D.probs[i].toFixed(3).replace(/^0\./, ".");
    const ns = document.createElement("span"); ns.className = "n";
    ns.textContent = D.top[i].slice(0, 3).map(x => shown(x[0])).join("\n");
    ns.title = D.top[i].map(x => JSON.stringify(x[0]) + " " + x[1].toFixed(3)).join("\n");
    t.append(cs, ps, ns); frag.appendChild(t);
    if (c === "\n") { const b = document.createElement("span"); b.className = "brk"; frag.appendChild(b); }
  });
  box.appendChild(frag);
  colourText(); drawHeat(); fillTracking();
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

function drawHeat() {
  const N = D.tokens.length, H = D.hidden, cv = $("heat");
  const cw = Math.max(1, Math.min(24, Math.floor(1000 / Math.max(N, 1))));
  const ch = Math.max(2, Math.min(10, Math.floor(600 / H)));
  cv.width = Math.max(1, N * cw); cv.height = H * ch; cv.dataset.ch = ch;
  const g = cv.getContext("2d");
  const img = g.createImageData(cv.width, cv.height), px = img.data;
  for (let u = 0; u < H; u++) for (let i = 0; i < N; i++) {
    const a = act(layer, i, u);
    const r = a >= 0 ? 255 : Math.round(255 + 200 * a), gb = a >= 0 ? Math.round(255 - 200 * a) : r;
    const b = a >= 0 ? gb : 255;
    for (let y = u * ch; y < (u + 1) * ch; y++) for (let x = i * cw; x < (i + 1) * cw; x++) {
      const o = (y * cv.width + x) * 4; px[o] = r; px[o + 1] = gb; px[o + 2] = b; px[o + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
  if (unit !== null) { g.strokeStyle = "#000"; g.strokeRect(0, unit * ch, cv.width, ch); }
}

function chooseUnit(l, u) {
  layer = l; unit = u; colourMode = "unit"; $("layer").value = l;
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

async function showInfluence(i) {
  let row = null;
  try {
    if (infl) {
      row = Array.from(infl.rows.subarray(i * infl.w, (i + 1) * infl.w), v => v === 255 ? null : v / 254);
    } else {
      const j = await post("/api/influence", {text: $("text").value, index: i});
      const m = Math.max(...j.influence.filter(v => v !== null), 1e-12);
      row = j.influence.map(v => v === null ? null : v / m);
    }
  } catch (e) { showError(e.message); return; }
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
    " (yellow): darker blue mattered more. Click the heatmap or a unit to go back to activations.";
}

let pending = null, seq = 0;
async function update() {
  const my = ++seq, t0 = performance.now();
  try {
    const data = await post("/api/read", {text: $("text").value});
    if (my !== seq) return;
    showError(""); render(data);
    $("timing").textContent = D.tokens.length + " characters; page updated in " +
      Math.round(performance.now() - t0) + " ms (server " + Math.round(data.seconds * 1000) + " ms)";
  } catch (e) { if (my === seq) showError(e.message); }
}

$("tokens").addEventListener("click", ev => {
  const t = ev.target.closest(".tok"); if (t) showInfluence(+t.dataset.i);
});
$("heat").addEventListener("click", ev => {
  const r = ev.target.getBoundingClientRect();
  const u = Math.floor((ev.clientY - r.top) / +ev.target.dataset.ch);
  if (u >= 0 && u < D.hidden) chooseUnit(layer, u);
});
$("heat").addEventListener("mousemove", ev => {
  const r = ev.target.getBoundingClientRect(), cv = ev.target;
  const u = Math.floor((ev.clientY - r.top) / +cv.dataset.ch);
  const i = Math.floor((ev.clientX - r.left) / (cv.width / Math.max(D.tokens.length, 1)));
  if (u >= 0 && u < D.hidden && i >= 0 && i < D.tokens.length)
    cv.title = "unit " + u + " after " + JSON.stringify(D.tokens[i]) + ": " + act(layer, i, u).toFixed(2);
});
$("layer").addEventListener("change", () => { layer = +$("layer").value; drawHeat(); colourText(); });
$("prop").addEventListener("change", fillTracking);

if (STATIC) {
  $("input-box").hidden = true; $("live").hidden = true; $("static-note").hidden = false;
  render(JSON.parse($("data").textContent));
} else {
  $("text").addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(update, 200); });
  $("s-go").onclick = async () => {
    try {
      const j = await post("/api/sample", {prefix: $("s-prefix").value, temperature: +$("s-temp").value,
        top_k: +$("s-topk").value || null, n: +$("s-n").value,
        max_len: +$("s-len").value || null});
      showError(""); const ul = $("samples"); ul.innerHTML = "";
      j.samples.forEach(s => { const li = document.createElement("li"); li.textContent = s; ul.appendChild(li); });
    } catch (e) { showError(e.message); }
  };
  $("c-go").onclick = async () => {
    try {
      const j = await post("/api/complete", {prefix: $("c-prefix").value, k: +$("c-k").value,
        max_len: +$("c-len").value || null});
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
