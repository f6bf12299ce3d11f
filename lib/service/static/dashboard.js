// The faceswap dashboard: one live view of a uid's runs, drawn from /api/status and kept current by the
// server-sent events of /api/events (no reload). Plain JS, no libraries: the service may have no internet.
"use strict";

const params = new URLSearchParams(location.search);
const auth = new URLSearchParams({ uid: params.get("uid") || "", key: params.get("key") || "" }).toString();
const runsEl = document.getElementById("runs");
const connection = document.getElementById("connection");
const cards = new Map();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function fmtTime(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  seconds = Math.round(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

function fmtNum(value, digits = 4) {
  return value == null ? "–" : Number(value).toPrecision(digits);
}

// Loss curves of sides A and B on a canvas: points are [iteration, loss_a, loss_b].
function drawLosses(canvas, points) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 420, height = canvas.clientHeight || 200;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#7a8194";
  if (!points || points.length === 0) { ctx.fillText("no losses yet", 10, 20); return; }
  const values = points.flatMap(p => [p[1], p[2]]).filter(v => v != null && isFinite(v));
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const first = points[0][0], last = Math.max(points[points.length - 1][0], first + 1);
  const pad = { left: 44, right: 10, top: 10, bottom: 20 };
  const x = it => pad.left + (it - first) / (last - first) * (width - pad.left - pad.right);
  const y = v => pad.top + (hi - v) / (hi - lo) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#e6e8ee"; ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillText(hi.toPrecision(3), 2, pad.top + 8);
  ctx.fillText(lo.toPrecision(3), 2, height - pad.bottom);
  ctx.fillText(String(first), pad.left, height - 5);
  ctx.fillText(String(last), width - pad.right - 30, height - 5);
  [[1, "#d5573a", "A"], [2, "#3a7bd5", "B"]].forEach(([index, colour, name], n) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    for (const p of points) {
      if (p[index] == null) continue;
      if (!started) { ctx.moveTo(x(p[0]), y(p[index])); started = true; } else ctx.lineTo(x(p[0]), y(p[index]));
    }
    ctx.stroke();
    ctx.fillStyle = colour; ctx.fillText(`loss ${name}`, width - 110 + n * 50, pad.top + 8);
  });
}

function card(run) {
  let c = cards.get(run.id);
  if (c) return c;
  const node = el("section", { class: "run", "data-job": run.id });
  node.innerHTML = `
    <h2><span class="title"></span><span class="state"></span><span class="muted created"></span></h2>
    <div class="facts">
      <div><span>stage</span><b class="stage"></b></div>
      <div><span>queue position</span><b class="position"></b></div>
      <div><span>progress</span><b class="progress"></b></div>
      <div><span>iteration</span><b class="iteration"></b></div>
      <div><span>loss A / B</span><b class="loss"></b></div>
      <div><span>EG/s</span><b class="egs"></b></div>
      <div><span>ETA</span><b class="eta"></b></div>
    </div>
    <div class="bar"><div></div></div>
    <p class="error" hidden></p>
    <div class="media">
      <canvas class="losses"></canvas>
      <img class="preview" alt="latest training preview" hidden>
    </div>
    <div class="resultbox" hidden>
      <h3>Result</h3>
      <video class="result" controls preload="metadata"></video>
      <p class="downloads"></p>
      <table class="summary"></table>
    </div>`;
  runsEl.append(node);
  c = { node, q: sel => node.querySelector(sel), lossesKey: "", preview: null, video: null };
  cards.set(run.id, c);
  return c;
}

function render(view) {
  connection.textContent = "live";
  if (!view.runs.length) { runsEl.innerHTML = '<p class="muted">no runs yet</p>'; return; }
  if (runsEl.querySelector("p.muted")) runsEl.innerHTML = "";
  view.runs.forEach(run => {
    const c = card(run);
    c.q(".title").textContent = run.title;
    const state = c.q(".state");
    state.textContent = run.state; state.className = `state ${run.state}`;
    c.q(".created").textContent = run.created ? new Date(run.created * 1000).toLocaleString() : "";
    c.q(".stage").textContent = run.stage || "–";
    c.q(".position").textContent = run.position ? `#${run.position}` : "–";
    c.q(".progress").textContent = run.total ? `${run.done} / ${run.total} ${run.unit || ""}` : (run.done ?? "–");
    c.q(".iteration").textContent = run.iteration != null
      ? `${run.iteration}${run.target_iterations ? " / " + run.target_iterations : ""}` : "–";
    c.q(".loss").textContent = `${fmtNum(run.loss_a)} / ${fmtNum(run.loss_b)}`;
    c.q(".egs").textContent = run.egs != null ? run.egs.toFixed(1) : "–";
    c.q(".eta").textContent = run.state === "running" ? fmtTime(run.eta) : "–";
    const share = run.total ? Math.min(100, 100 * run.done / run.total) : (run.state === "done" ? 100 : 0);
    c.q(".bar div").style.width = `${share}%`;
    const error = c.q(".error");
    error.hidden = !run.error; error.textContent = run.error || "";
    const key = JSON.stringify(run.losses.length ? [run.losses.length, run.losses[run.losses.length - 1]] : []);
    if (key !== c.lossesKey) { c.lossesKey = key; drawLosses(c.q("canvas.losses"), run.losses); }
    if (run.preview && run.preview !== c.preview) {
      c.preview = run.preview; const img = c.q("img.preview"); img.src = run.preview; img.hidden = false;
    }
    if (run.video || run.model || run.quality) {
      c.q(".resultbox").hidden = false;
      if (run.video && run.video !== c.video) { c.video = run.video; c.q("video.result").src = run.video; }
      const links = c.q(".downloads");
      links.replaceChildren(...[["video", "swapped video", true], ["model", "model archive", true],
        ["report", "quality report", false], ["summary", "quality summary (JSON)", true]]
        .filter(([k]) => run[k])
        .map(([k, label, save]) => el("a", save ? { href: run[k], download: "" } : { href: run[k], target: "_blank" },
                                      label)));
      const rows = (run.quality && run.quality.rows) || [];
      c.q("table.summary").replaceChildren(
        ...rows.map(([label, text]) => el("tr", {}, el("td", {}, label), el("td", {}, text))));
    }
  });
}

function fail(message) {
  connection.textContent = "stopped";
  runsEl.replaceChildren(el("p", { class: "error" }, message));
}

fetch(`/api/status?${auth}`).then(async response => {
  const body = await response.json();
  if (!response.ok) { fail(body.error || `HTTP ${response.status}`); return; }
  render(body);
  const events = new EventSource(`/api/events?${auth}`);
  events.onmessage = e => render(JSON.parse(e.data));
  events.addEventListener("failure", e => { events.close(); fail(JSON.parse(e.data).error); });
  events.onerror = () => { connection.textContent = "reconnecting…"; };
}).catch(err => fail(String(err)));
