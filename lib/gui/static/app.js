// faceswap GUI: one page, hash routes, plain DOM. Everything it shows comes from /api (see lib/gui/app.py).
"use strict";

const TOKEN = document.querySelector('meta[name="faceswap-token"]').content;
const main = document.getElementById("main");
let cleanups = [];          // what the current page must stop when the route changes (event streams, timers)

// ------------------------------------------------------------------------------------------------ helpers
async function api(method, url, body) {
  const options = { method, headers: { "X-Faceswap-Token": TOKEN } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) throw new Error((data && (data.error || data.detail)) || `${response.status} ${response.statusText}`);
  return { data, response };
}
const get = async (url) => (await api("GET", url)).data;
const post = async (url, body) => (await api("POST", url, body || {})).data;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;   // CSSOM: allowed by the page's CSP, unlike style=""
    else if (key === "text") node.textContent = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const q = (params) => new URLSearchParams(params).toString();
const media = (path) => `/gui/api/media?${q({ path })}`;
const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
function fmtSeconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}
// replaceChildren without the null/false placeholders that conditional children leave
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}
function stateBadge(state) { return el("span", { class: `state ${state}`, text: state }); }
function onLeave(fn) { cleanups.push(fn); }
function message(node, text, cls) { node.textContent = text || ""; node.className = cls || "muted"; }

// ------------------------------------------------------------------------------------------------ router
const routes = [
  [/^#?\/?$/, pageHome],
  [/^#\/run$/, pageHome],
  [/^#\/run\/([\w-]+)$/, pageForm],
  [/^#\/jobs$/, pageJobs],
  [/^#\/job\/([\w-]+)$/, pageJob],
  [/^#\/training$/, pageTraining],
  [/^#\/faces$/, pageFaces],
  [/^#\/tuner$/, pageTuner],
];

async function route() {
  for (const stop of cleanups.splice(0)) { try { stop(); } catch (err) { /* already stopped */ } }
  const hash = location.hash || "#/";
  const first = hash.split(/[/?]/)[1] || "run";
  const section = first === "job" ? "jobs" : first;
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.nav === section);
  for (const [pattern, page] of routes) {
    const match = hash.split("?")[0].match(pattern);
    if (match) {
      fill(main, el("p", { class: "muted", text: "Loading…" }));
      try { await page(...match.slice(1)); } catch (err) { fill(main, el("p", { class: "error", text: err.message })); }
      return;
    }
  }
  fill(main, el("p", { class: "error", text: "No such page." }));
}
window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);

// ------------------------------------------------------------------------------------------------ file picker
// kind: "file" | "folder" | "any". Resolves with a path relative to the root, or null.
function pick(kind, start, title) {
  const dialog = document.getElementById("picker");
  const list = dialog.querySelector(".picker-list");
  const where = dialog.querySelector(".picker-where");
  const error = dialog.querySelector(".picker-error");
  const name = dialog.querySelector(".picker-name");
  const useFolder = dialog.querySelector(".picker-use-folder");
  const useName = dialog.querySelector(".picker-use-name");
  dialog.querySelector(".picker-title").textContent = title || (kind === "folder" ? "Choose a folder" : "Choose a file");
  useFolder.hidden = kind === "file";
  let current = "", parent = null;
  return new Promise((resolve) => {
    let done = false;
    const finish = (value) => { if (done) return; done = true; dialog.close(); resolve(value); };
    async function show(path) {
      error.textContent = "";
      try {
        const listing = await get(`/gui/api/files?${q({ path })}`);
        current = listing.path; parent = listing.parent;
        where.textContent = "/" + current;
        fill(list, ...listing.entries.map((entry) => el("li", {
          class: entry.kind, "data-path": entry.path,
          onclick: () => (entry.kind === "folder" ? show(entry.path) : kind !== "folder" && finish(entry.path)),
        }, el("span", { text: entry.name }), el("span", { class: "muted", text: entry.kind === "file" ? sizeText(entry.size) : "" }))));
        if (listing.truncated) list.append(el("li", { class: "muted", text: "… (more not shown)" }));
      } catch (err) {
        if (path) return show(""); // a start folder that is gone: show the root
        error.textContent = err.message;
      }
    }
    dialog.querySelector(".picker-up").onclick = () => parent !== null && show(parent);
    useFolder.onclick = () => finish(current || ".");
    useName.onclick = () => name.value.trim() && finish((current ? current + "/" : "") + name.value.trim());
    dialog.onclose = () => finish(null);
    name.value = "";
    let folder = start || "";
    if (folder && !folder.endsWith("/")) folder = folder.includes("/") ? folder.slice(0, folder.lastIndexOf("/")) : "";
    show(folder);
    dialog.showModal();
  });
}
function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function pathInput(kind, value, placeholder, onchange) {
  const input = el("input", { type: "text", value: value || "", placeholder: placeholder || "" });
  if (onchange) input.addEventListener("change", onchange);
  const button = el("button", { type: "button", class: "secondary", text: "Browse…", onclick: async () => {
    const chosen = await pick(kind, input.value);
    if (chosen !== null) { input.value = chosen; input.dispatchEvent(new Event("change")); }
  } });
  return { input, node: el("span", { class: "control" }, input, button) };
}

// ------------------------------------------------------------------------------------------------ home: every command
async function pageHome() {
  const commands = await get("/gui/api/commands");
  const byProgram = {};
  for (const c of commands) (byProgram[c.program] = byProgram[c.program] || []).push(c);
  const jobsBox = el("div");
  fill(main,
    el("h1", { text: "Run a command" }),
    el("p", { class: "muted", text: "Every command of faceswap.py and tools.py, as a form built from its own options. Paths are inside the root folder the GUI was started with." }),
    ...Object.entries(byProgram).map(([program, list]) => el("section", {},
      el("h2", { text: program }),
      el("div", { class: "grid2 commands" }, list.map((c) => el("a", { class: "card", href: `#/run/${c.command}`, "data-command": c.command },
        el("div", { class: "name", text: c.command }), el("div", { class: "muted", text: c.help })))))),
    el("h2", { text: "Recent jobs" }), jobsBox);
  await renderJobTable(jobsBox, 8);
}

// ------------------------------------------------------------------------------------------------ a command's form
async function pageForm(command, prefill) {
  const schema = await get(`/gui/api/forms/${command}`);
  const fields = schema.fields;
  const initial = prefill || JSON.parse(sessionStorage.getItem(`form:${command}`) || "null") || {};
  const readers = {};
  const groups = {};
  for (const field of fields) {
    const row = formField(field, initial[field.id], readers);
    (groups[field.group] = groups[field.group] || []).push(row);
  }
  const status = el("p", { class: "muted" });
  const collect = () => {
    const values = {};
    for (const [id, read] of Object.entries(readers)) {
      const value = read();
      if (value !== undefined) values[id] = value;
    }
    return values;
  };
  const remember = () => sessionStorage.setItem(`form:${command}`, JSON.stringify(collect()));
  const run = async () => {
    remember();
    message(status, "Starting…");
    try {
      const { id } = await post("/gui/api/jobs", { command, values: collect() });
      location.hash = `#/job/${id}`;
    } catch (err) { message(status, err.message, "error"); }
  };
  const check = async () => {
    const result = await post(`/gui/api/forms/${command}/check`, { values: collect() });
    message(status, result.ok ? "The options are valid." : result.error, result.ok ? "ok" : "error");
  };
  const configPath = el("input", { type: "text", value: `${command}.toml`, size: 24 });
  const saveConfig = async () => {
    try {
      const saved = await post(`/gui/api/forms/${command}/config`, { values: collect(), path: configPath.value });
      message(status, `Saved ${saved.path} (use it with: ${schema.program} -C ${saved.path} ${command} …)`, "ok");
    } catch (err) { message(status, err.message, "error"); }
  };
  const form = el("form", { class: "command-form", "data-command": command, onsubmit: (e) => { e.preventDefault(); run(); } },
    ...Object.entries(groups).map(([title, rows]) => el("fieldset", {}, el("legend", { text: title }), rows)),
    el("div", { class: "buttons" },
      el("button", { type: "submit", class: "run", text: "Run" }),
      el("button", { type: "button", class: "secondary", text: "Check", onclick: check }),
      el("span", { class: "muted", text: "Save as -C config:" }), configPath,
      el("button", { type: "button", class: "secondary", text: "Save", onclick: saveConfig })),
    status);
  form.addEventListener("change", remember);
  fill(main,
    el("h1", {}, `${schema.program} ${command}`),
    el("details", {}, el("summary", { text: schema.help }), el("pre", { class: "muted", text: schema.description })),
    form);
}

// One option as a form row; registers a reader that returns the value to send (undefined = not given).
function formField(field, initial, readers) {
  const label = el("div", { class: "flags" }, field.flags.join(", "), field.required ? el("span", { class: "req", text: " *" }) : null);
  const help = el("div", { class: "help", text: field.help });
  const def = field.default;
  const asText = (v) => (v === null || v === undefined ? "" : String(v));
  let control;
  if (field.kind === "bool") {
    const box = el("input", { type: "checkbox", name: field.id, checked: initial === true });
    readers[field.id] = () => (box.checked ? true : undefined);
    control = el("label", { class: "control" }, box, el("span", { class: "muted", text: field.const !== null ? `sets ${field.dest} = ${field.const}` : "on" }));
  } else if (field.kind === "choice" && field.multiple) {
    const chosen = new Set((initial !== undefined ? initial : def || []).map(String));
    const boxes = field.choices.map((choice) => el("input", { type: "checkbox", value: String(choice), checked: chosen.has(String(choice)) }));
    readers[field.id] = () => {
      const values = boxes.filter((b) => b.checked).map((b) => b.value);
      const same = JSON.stringify(values) === JSON.stringify((def || []).map(String));
      return same ? undefined : values;
    };
    control = el("div", { class: "control checks", "data-field": field.id }, boxes.map((b) => el("label", {}, b, " ", b.value)));
  } else if (field.kind === "choice") {
    const select = el("select", { name: field.id },
      def === null || def === undefined ? el("option", { value: "", text: field.required ? "— choose —" : "(default)" }) : null,
      field.choices.map((choice) => el("option", { value: String(choice), text: String(choice) })));
    select.value = asText(initial !== undefined ? initial : def);
    readers[field.id] = () => (select.value === "" || select.value === asText(def) ? undefined : select.value);
    control = el("span", { class: "control" }, select);
  } else if (field.multiple) {
    const start = initial !== undefined ? initial : def || [];
    const area = el("textarea", { name: field.id, rows: 2, placeholder: "one value per line" }, (Array.isArray(start) ? start : [start]).join("\n"));
    readers[field.id] = () => {
      const values = area.value.split("\n").map((v) => v.trim()).filter(Boolean);
      return values.length ? values : undefined;
    };
    const parts = [area];
    if (field.kind === "path") {
      parts.push(el("button", { type: "button", class: "secondary", text: "Add…", onclick: async () => {
        const chosen = await pick(field.path, area.value.split("\n").filter(Boolean).pop() || "");
        if (chosen !== null) area.value = (area.value.trim() ? area.value.trim() + "\n" : "") + chosen;
      } }));
    }
    control = el("span", { class: "control" }, parts);
  } else if (field.kind === "path") {
    const { input, node } = pathInput(field.path, asText(initial !== undefined ? initial : def), field.metavar || "");
    input.name = field.id;
    readers[field.id] = () => (input.value.trim() && input.value.trim() !== asText(def) ? input.value.trim() : undefined);
    control = node;
  } else {
    const number = field.kind === "int" || field.kind === "float";
    const input = el("input", { type: "text", name: field.id, inputmode: number ? "decimal" : undefined,
                                value: asText(initial !== undefined ? initial : def), placeholder: field.metavar || "" });
    readers[field.id] = () => (input.value.trim() === "" || input.value.trim() === asText(def) ? undefined : input.value.trim());
    control = el("span", { class: "control" }, input);
  }
  return el("div", { class: "field", "data-field": field.id }, label, control, help);
}

// ------------------------------------------------------------------------------------------------ jobs
async function renderJobTable(box, limit) {
  const draw = async () => {
    const jobs = await get(`/gui/api/jobs?limit=${limit || 100}`);
    if (!jobs.length) { fill(box, el("p", { class: "muted", text: "No jobs yet." })); return; }
    fill(box, el("table", { class: "jobs" },
      el("tr", {}, ["job", "state", "progress", "created"].map((h) => el("th", { text: h }))),
      jobs.map((job) => el("tr", { "data-job": job.id },
        el("td", {}, el("a", { href: `#/job/${job.id}`, text: job.title || job.id })),
        el("td", {}, stateBadge(job.state), job.position ? el("span", { class: "muted", text: ` #${job.position} in queue` }) : null),
        el("td", { text: progressText(job) }),
        el("td", { class: "muted", text: fmtTime(job.created) })))));
  };
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), 2000);
  onLeave(() => clearInterval(timer));
}
function progressText(job) {
  const p = job.progress || {};
  if (job.state === "failed") return job.error || "failed";
  if (!p.stage) return "";
  const count = p.total ? `${p.done}/${p.total} ${p.unit || ""}` : p.done ? `${p.done} ${p.unit || ""}` : "";
  return `${p.stage} ${count}`.trim();
}

async function pageJobs() {
  const box = el("div");
  fill(main, el("h1", { text: "Jobs" }), box);
  await renderJobTable(box, 200);
}

async function pageJob(id) {
  let job = await get(`/gui/api/jobs/${id}`);
  const head = el("div");
  const progress = el("div", { class: "card" });
  const monitorBox = el("div");
  const results = el("div");
  const logBox = el("pre", { class: "log" });
  const status = el("p", { class: "muted" });
  fill(main, head, status, progress, monitorBox, results,
    el("h2", { text: "Options" }), valuesTable(job), el("h2", { text: "Log" }), logBox);
  let monitor = null;
  const draw = () => {
    fill(head, el("h1", {}, job.title || job.id, " ", stateBadge(job.state)),
      el("p", { class: "muted" }, `created ${fmtTime(job.created)}`, job.started ? ` · started ${fmtTime(job.started)}` : "",
        job.finished ? ` · finished ${fmtTime(job.finished)}` : "", job.attempts > 1 ? ` · attempt ${job.attempts}` : ""),
      el("div", { class: "buttons" },
        ["queued", "running"].includes(job.state) ? el("button", { class: "danger cancel", text: job.command === "train" ? "Stop (saving)" : "Cancel",
          onclick: async () => { await post(`/gui/api/jobs/${id}/cancel`); message(status, "Asked to stop…"); } }) : null,
        el("button", { class: "secondary", text: "Run again with these options", onclick: () => {
          sessionStorage.setItem(`form:${job.command}`, JSON.stringify(job.values)); location.hash = `#/run/${job.command}`; } })));
    drawProgress(progress, job);
    if (!monitor && isTraining(job)) monitor = trainingMonitor(monitorBox, job);
    if (monitor) monitor.update(job);
    drawResults(results, job);
  };
  draw();
  const stream = new EventSource(`/gui/api/jobs/${id}/events`);
  stream.addEventListener("job", (e) => { job = JSON.parse(e.data); draw(); });
  stream.addEventListener("losses", (e) => monitor && monitor.losses(JSON.parse(e.data)));
  stream.addEventListener("log", (e) => {
    const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
    logBox.textContent += JSON.parse(e.data).text;
    if (atEnd) logBox.scrollTop = logBox.scrollHeight;
  });
  stream.addEventListener("end", () => stream.close());
  onLeave(() => stream.close());
}
const isTraining = (job) => job.command === "train" || job.command === "swap";

function drawProgress(box, job) {
  const p = job.progress || {};
  const pct = p.total ? Math.min(100, (100 * p.done) / p.total) : job.state === "done" ? 100 : 0;
  fill(box,
    el("div", { class: "stage" }, el("b", { text: p.stage || (job.state === "queued" ? "waiting in the queue" : job.state) }),
      p.total ? ` · ${p.done} / ${p.total} ${p.unit || ""}` : p.done ? ` · ${p.done} ${p.unit || ""}` : "",
      p.eta !== null && p.eta !== undefined && job.state === "running" ? ` · ${fmtSeconds(p.eta)} left` : ""),
    el("div", { class: "bar" }, el("div", { style: `width:${pct.toFixed(1)}%` })),
    p.message ? el("div", { class: "muted", text: p.message }) : null,
    job.error ? el("p", { class: "error", text: job.error }) : null);
}

function valuesTable(job) {
  const rows = Object.entries(job.values || {});
  if (!rows.length) return el("p", { class: "muted", text: "defaults only" });
  return el("table", {}, rows.map(([k, v]) => el("tr", {}, el("th", { text: `--${k}` }), el("td", { class: "mono", text: Array.isArray(v) ? v.join(" ") : String(v) }))));
}

function drawResults(box, job) {
  if (job.state !== "done" && job.state !== "failed" && job.state !== "cancelled") { fill(box); return; }
  if (box.dataset.drawn === job.state) return;
  box.dataset.drawn = job.state;
  const parts = [];
  for (const path of job.outputs || []) {
    const lower = path.toLowerCase();
    if (/\.(mp4|webm|mov|m4v|mkv)$/.test(lower)) {
      const video = el("video", { class: "result", controls: true, preload: "metadata", src: media(path) });
      video.addEventListener("loadedmetadata", () => { if (video.currentTime === 0) video.currentTime = 0.01; }, { once: true });
      parts.push(el("figure", {}, video, el("figcaption", { class: "mono", text: path })));
    } else if (/\.(png|jpg|gif)$/.test(lower)) {
      parts.push(el("figure", {}, el("img", { class: "result", src: media(path), style: "max-width:100%" }), el("figcaption", { class: "mono", text: path })));
    } else if (/\.html$/.test(lower)) {
      parts.push(el("p", {}, el("a", { class: "report", href: media(path), target: "_blank", rel: "noopener", text: `Open the report ${path}` })));
    } else {
      parts.push(el("p", {}, el("a", { href: media(path), target: "_blank", rel: "noopener", text: path })));
    }
  }
  const result = job.result || {};
  if (Array.isArray(result.rows) && result.rows.length) {
    parts.push(el("h3", { text: "Quality summary" }), el("table", { class: "summary" },
      result.rows.map(([label, text]) => el("tr", {}, el("th", { text: label }), el("td", { text: String(text) })))));
  }
  const reports = [result.html, result.report_html, result.evaluate && result.evaluate.html]
    .filter((p) => typeof p === "string" && !(job.outputs || []).some((o) => p.endsWith(o)));
  for (const report of reports) {
    parts.push(el("p", {}, el("a", { class: "report", href: media(report), target: "_blank", rel: "noopener", text: "Open the evaluate report" })));
  }
  if (job.command === "swap" && job.state === "done") parts.push(evaluateButton(job));
  const summary = Object.entries(job.result || {}).filter(([, v]) => typeof v !== "object" || v === null);
  if (summary.length) parts.push(el("details", {}, el("summary", { text: "Result" }),
    el("table", {}, summary.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { class: "mono", text: String(v) }))))));
  fill(box, el("h2", { text: "Result" }), ...parts);
}

// A swap's quality report: tools.py evaluate on the swap's own inputs (its workspace holds the faces).
function evaluateButton(job) {
  const r = job.result || {};
  const v = job.values || {};
  const status = el("span", { class: "muted" });
  const faces = (side) => r[`faces_${side}`] || r.faces && r.faces[side];
  return el("div", { class: "buttons" }, el("button", { class: "secondary evaluate", text: "Evaluate this swap", onclick: async () => {
    try {
      const values = { original: v["input-a"], swapped: v.output, "ref-a": [faces("a")], "ref-b": [faces("b")],
                       output: r.workspace ? `${r.workspace}/evaluate` : `${v.output.replace(/\.\w+$/, "")}_evaluate` };
      if (r.alignments_a) values.alignments = r.alignments_a;
      if (!values["ref-a"][0] || !values["ref-b"][0]) throw new Error("this swap's result does not name its face folders");
      const { id } = await post("/gui/api/jobs", { command: "evaluate", values });
      location.hash = `#/job/${id}`;
    } catch (err) { message(status, err.message, "error"); }
  } }), status);
}

// ------------------------------------------------------------------------------------------------ training monitor
function trainingMonitor(box, job) {
  const id = job.id;
  const img = el("img", { class: "preview", alt: "training preview (A, A→A, A→B | B, B→B, B→A)" });
  const canvas = el("canvas", { class: "losses", width: 600, height: 220 });
  const stats = el("div", { class: "stats" });
  const status = el("span", { class: "muted" });
  const points = new Map();   // iteration -> [iteration, loss A, loss B]
  let previewStamp = null;
  const ask = (what) => async () => {
    try { await post(`/gui/api/jobs/${id}/request/${what}`); message(status, `asked: ${what}`); } catch (err) { message(status, err.message, "error"); }
  };
  const buttons = el("div", { class: "buttons" },
    el("button", { class: "secondary save", text: "Save now", onclick: ask("save") }),
    el("button", { class: "secondary snapshot", text: "Snapshot", onclick: ask("snapshot") }),
    el("button", { class: "danger stop", text: "Stop (saving)", onclick: async () => { await post(`/gui/api/jobs/${id}/cancel`); message(status, "stopping: saving first…"); } }),
    status);
  box.append(el("div", { class: "card monitor-card", "data-job": id },
    el("h3", {}, el("a", { href: `#/job/${id}`, text: job.title || id })),
    el("div", { class: "monitor" },
      el("div", {}, img, el("div", { class: "muted no-preview", text: "the preview appears after the first steps" }),
        el("div", { class: "muted", text: "columns: A, A→A, A→B | B, B→B, B→A" })),
      el("div", {}, stats, el("div", { class: "legend" }, el("span", { class: "a", text: "— loss A" }), el("span", { class: "b", text: "— loss B" })), canvas, buttons))));
  const api_ = {
    update(j) {
      const p = j.progress || {};
      fill(stats,
        stat(p.iteration ?? "–", "iterations"),
        stat(p.loss_a !== null && p.loss_a !== undefined ? p.loss_a.toFixed(4) : "–", "loss A"),
        stat(p.loss_b !== null && p.loss_b !== undefined ? p.loss_b.toFixed(4) : "–", "loss B"),
        stat(p.egs ? p.egs.toFixed(1) : "–", "EG/s"),
        stat(j.state === "running" ? fmtSeconds(p.eta) : j.state, "ETA"));
      if (p.preview && j.updated !== previewStamp) {
        previewStamp = j.updated;
        const next = new Image();
        next.onload = () => { img.src = next.src; img.dataset.loaded = String((Number(img.dataset.loaded) || 0) + 1); };
        next.src = `/gui/api/jobs/${id}/preview?t=${j.updated}`;
      }
      for (const b of buttons.querySelectorAll("button")) b.disabled = j.state !== "running";
    },
    losses(list) {
      for (const point of list) points.set(point[0], point);
      drawLosses(canvas, [...points.values()].sort((a, b) => a[0] - b[0]));
    },
  };
  drawLosses(canvas, []);
  return api_;
}
function stat(value, label) { return el("div", {}, el("b", { text: String(value) }), el("span", { text: label })); }

function drawLosses(canvas, points) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 34;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui"; ctx.fillStyle = "#68717a"; ctx.strokeStyle = "#d9dee3";
  if (points.length < 1) { ctx.fillText("losses appear as training runs", pad, h / 2); return; }
  const xs = points.map((p) => p[0]);
  const ys = points.flatMap((p) => [p[1], p[2]]).filter((v) => v !== null && isFinite(v));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-6) { y0 -= 0.01; y1 += 0.01; }
  const X = (x) => pad + ((x - x0) / (x1 - x0)) * (w - pad - 8);
  const Y = (y) => h - 18 - ((y - y0) / (y1 - y0)) * (h - 30);
  ctx.beginPath(); ctx.moveTo(pad, 6); ctx.lineTo(pad, h - 18); ctx.lineTo(w - 8, h - 18); ctx.stroke();
  ctx.fillText(y1.toFixed(3), 2, 12); ctx.fillText(y0.toFixed(3), 2, h - 20);
  ctx.fillText(String(x0), pad, h - 4); ctx.fillText(String(x1), w - 40, h - 4);
  for (const [index, colour] of [[1, "#d9480f"], [2, "#1971c2"]]) {
    ctx.beginPath(); ctx.strokeStyle = colour; ctx.lineWidth = 1.5;
    let started = false;
    for (const p of points) {
      if (p[index] === null || !isFinite(p[index])) continue;
      if (!started) { ctx.moveTo(X(p[0]), Y(p[index])); started = true; } else ctx.lineTo(X(p[0]), Y(p[index]));
    }
    ctx.stroke();
  }
  ctx.lineWidth = 1; ctx.strokeStyle = "#d9dee3";
}

async function pageTraining() {
  const box = el("div");
  const empty = el("p", { class: "muted" }, "No training running. Start one from ", el("a", { href: "#/run/train", text: "the train form" }), ".");
  fill(main, el("h1", { text: "Training" }), el("p", { class: "muted", text: "Every training run, live: previews, losses and speed. Several runs can be watched at once." }), box);
  const monitors = {};
  const streams = [];
  const refresh = async () => {
    const jobs = (await get("/gui/api/jobs?limit=50")).filter((j) => ["train", "swap"].includes(j.command) &&
      (j.state === "running" || j.state === "queued" || Date.now() / 1000 - (j.finished || 0) < 3600));
    if (!jobs.length && !Object.keys(monitors).length) { fill(box, empty); return; }
    if (empty.parentNode) empty.remove();
    for (const job of jobs) {
      if (monitors[job.id]) continue;
      const monitor = trainingMonitor(box, job);
      monitor.update(job);
      monitors[job.id] = monitor;
      const stream = new EventSource(`/gui/api/jobs/${job.id}/events?log_offset=1000000000`);
      stream.addEventListener("job", (e) => monitor.update(JSON.parse(e.data)));
      stream.addEventListener("losses", (e) => monitor.losses(JSON.parse(e.data)));
      stream.addEventListener("end", () => stream.close());
      streams.push(stream);
    }
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 3000);
  onLeave(() => { clearInterval(timer); streams.forEach((s) => s.close()); });
}

// ------------------------------------------------------------------------------------------------ faces browser
async function pageFaces() {
  const saved = JSON.parse(sessionStorage.getItem("faces") || "{}");
  const folder = pathInput("folder", saved.folder || "", "faces folder written by extract");
  const alignments = pathInput("file", saved.alignments || "", "its alignments file");
  const sort = el("select", { class: "sort" }, ["frame", "identity", "blur", "yaw", "size"].map((k) => el("option", { value: k, text: k })));
  sort.value = saved.sort || "frame";
  const status = el("p", { class: "muted" });
  const grid = el("div", { class: "faces" });
  const removeButton = el("button", { class: "danger remove", text: "Remove selected", disabled: true });
  const selected = new Set();
  const landmarkCache = {};
  let current = null;
  const updateButton = () => { removeButton.disabled = !selected.size; removeButton.textContent = `Remove ${selected.size || ""} selected`.replace("  ", " "); };
  async function load() {
    sessionStorage.setItem("faces", JSON.stringify({ folder: folder.input.value, alignments: alignments.input.value, sort: sort.value }));
    if (!folder.input.value.trim()) return;
    message(status, sort.value === "identity" ? "Loading (identity distances take a moment)…" : "Loading…");
    selected.clear(); updateButton();
    try {
      const data = await get(`/gui/api/faces?${q({ folder: folder.input.value.trim(), sort: sort.value })}`);
      current = data.folder;
      if (!alignments.input.value.trim() && data.alignments) alignments.input.value = data.alignments;
      message(status, `${data.faces.length} faces, sorted by ${sort.value}${sort.value === "frame" ? "" : " (the likeliest wrong faces first)"}. Hover for landmarks, click to select.`);
      fill(grid, ...data.faces.map((face) => faceTile(face)));
    } catch (err) { message(status, err.message, "error"); fill(grid); }
  }
  function faceTile(face) {
    const img = el("img", { loading: "lazy", alt: face.name, src: `/gui/api/faces/thumb?${q({ folder: current, name: face.name })}` });
    const canvas = el("canvas", { width: 128, height: 128 });
    const key = { identity: face.identity, blur: face.blur, yaw: face.yaw, size: face.size, frame: null }[sort.value];
    const tile = el("div", { class: "face", "data-name": face.name, title: face.name },
      img, canvas, el("div", { class: "label" }, el("span", { text: `frame ${face.frame_index ?? face.frame}${face.face_index ? ` #${face.face_index}` : ""}` }),
        el("span", { class: "muted", text: key === null || key === undefined ? "" : Number(key).toFixed(sort.value === "identity" ? 3 : 0) })));
    tile.addEventListener("click", () => {
      if (selected.has(face.name)) selected.delete(face.name); else selected.add(face.name);
      tile.classList.toggle("selected", selected.has(face.name)); updateButton();
    });
    tile.addEventListener("mouseenter", async () => {
      try {
        const marks = landmarkCache[face.name] || (landmarkCache[face.name] = await get(`/gui/api/faces/landmarks?${q({ folder: current, name: face.name })}`));
        drawLandmarks(canvas, marks);
      } catch (err) { /* the face may have just been removed */ }
    });
    tile.addEventListener("mouseleave", () => canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height));
    return tile;
  }
  removeButton.addEventListener("click", async () => {
    if (!selected.size) return;
    if (!confirm(`Remove ${selected.size} face(s) from ${alignments.input.value || "the alignments file"}? Their PNGs are moved to ${current}_removed and the file keeps a .bak copy.`)) return;
    try {
      const out = await post("/gui/api/faces/remove", { folder: current, alignments: alignments.input.value.trim(), names: [...selected] });
      await load();
      message(status, `${out.message} — the PNGs are in ${out.moved_to}`, "ok");
    } catch (err) { message(status, err.message, "error"); }
  });
  fill(main, el("h1", { text: "Faces" }),
    el("div", { class: "toolbar" },
      el("label", {}, "faces folder", folder.node), el("label", {}, "alignments file", alignments.node),
      el("label", {}, "sort by", sort), el("button", { class: "load", text: "Show faces", onclick: load }), removeButton),
    status, grid);
  sort.addEventListener("change", load);
  folder.input.addEventListener("change", () => { alignments.input.value = ""; load(); });
  if (folder.input.value) load();
}
function drawLandmarks(canvas, marks) {
  const ctx = canvas.getContext("2d");
  const scale = canvas.width / marks.size;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#4cff4c"; ctx.strokeStyle = "rgba(76,255,76,.7)";
  const parts = [[0, 17], [17, 22], [22, 27], [27, 31], [31, 36], [36, 42, true], [42, 48, true], [48, 60, true], [60, 68, true]];
  for (const [a, b, closed] of parts) {
    ctx.beginPath();
    marks.points.slice(a, b).forEach(([x, y], i) => (i ? ctx.lineTo(x * scale, y * scale) : ctx.moveTo(x * scale, y * scale)));
    if (closed) ctx.closePath();
    ctx.stroke();
  }
  for (const [x, y] of marks.points) { ctx.beginPath(); ctx.arc(x * scale, y * scale, 1.3, 0, 7); ctx.fill(); }
  canvas.dataset.drawn = String(marks.points.length);
}

// ------------------------------------------------------------------------------------------------ convert tuner
async function pageTuner() {
  const saved = JSON.parse(sessionStorage.getItem("tuner") || "{}");
  const model = pathInput("folder", saved.model || "", "model folder (train -m)");
  const video = pathInput("file", saved.video || "", "video to convert");
  const aligns = pathInput("file", saved.alignments || "", "alignments (default: beside the video)");
  const trust = el("input", { type: "checkbox", name: "trust-alignments", checked: saved.trust === true });
  const status = el("p", { class: "muted" });
  const body = el("div");
  fill(main, el("h1", { text: "Convert tuner" }),
    el("p", { class: "muted", text: "Open a model and a video, pick a frame and try blend settings; the frame re-renders as you change them." }),
    el("div", { class: "toolbar" }, el("label", {}, "model", model.node), el("label", {}, "video", video.node), el("label", {}, "alignments", aligns.node),
      el("label", { title: "use an alignments file made from this video under another name or encoding" },
        "trust alignments", trust),
      el("button", { class: "open", text: "Open", onclick: open })), status, body);

  async function open() {
    sessionStorage.setItem("tuner", JSON.stringify({ model: model.input.value, video: video.input.value,
                                                     alignments: aligns.input.value, trust: trust.checked }));
    message(status, "Opening (loading the model)…");
    fill(body);
    try {
      const [info, schema] = await Promise.all([
        post("/gui/api/tuner/open", { model_dir: model.input.value.trim(), input: video.input.value.trim(),
                                      alignments: aligns.input.value.trim() || null, trust_alignments: trust.checked }),
        get("/gui/api/forms/convert")]);
      message(status, `${info.frames} frames${info.width ? `, ${info.width}×${info.height}` : ""}; model ${info.model.name} at ${info.model.iterations} iterations; ` +
        (info.detect_on_the_fly ? "no alignments file: faces are detected per frame" : `${info.faces_frames.length} frames with faces`));
      tuner(info, schema);
    } catch (err) { message(status, err.message, "error"); }
  }

  function tuner(info, schema) {
    const fields = Object.fromEntries(schema.fields.map((f) => [f.id, f]));
    const sid = info.session;
    const settings = {};
    const controls = [];
    const choice = (id) => {
      const f = fields[id];
      const select = el("select", { name: id }, f.choices.filter((c) => c !== "predicted" || info.model.learns_mask).map((c) => el("option", { value: c, text: c })));
      select.value = f.default;
      select.addEventListener("change", () => { settings[id] = select.value; render(); });
      settings[id] = f.default;
      controls.push(el("label", {}, id, select));
    };
    const range = (id, min, max, step) => {
      const f = fields[id];
      const input = el("input", { type: "range", name: id, min, max, step, value: f.default });
      const out = el("output", { text: String(f.default) });
      input.addEventListener("input", () => { out.textContent = input.value; settings[id] = input.value; render(); });
      settings[id] = String(f.default);
      controls.push(el("label", {}, el("span", {}, `${id} `, out), input));
    };
    choice("mask-type"); range("mask-blur", 0, 20, 0.5); range("mask-erode", -10, 10, 0.5);
    choice("color-adjustment"); choice("scaling"); range("detail", 0, 1, 0.05); range("smooth", 0, 10, 0.5);
    const swapBox = el("input", { type: "checkbox", name: "swap-model" });
    swapBox.addEventListener("change", () => { settings["swap-model"] = swapBox.checked; render(); });
    controls.push(el("label", {}, "swap-model (B → A)", swapBox));

    const last = info.frames - 1;
    const start = info.faces_frames.length ? info.faces_frames[Math.floor(info.faces_frames.length / 2)] : 0;
    const slider = el("input", { type: "range", class: "frame", min: 0, max: last, value: start });
    const number = el("input", { type: "number", class: "frame-number", min: 0, max: last, value: start, style: "width:90px" });
    const original = el("img", { class: "original", alt: "original frame" });
    const swapped = el("img", { class: "swapped", alt: "swapped frame" });
    const timing = el("span", { class: "timing muted" });
    const setFrame = (n) => { n = Math.max(0, Math.min(last, Number(n) || 0)); slider.value = number.value = n; render(); };
    slider.addEventListener("input", () => setFrame(slider.value));
    number.addEventListener("change", () => setFrame(number.value));
    const jump = (dir) => () => {
      const now = Number(slider.value);
      const list = info.faces_frames;
      const next = dir > 0 ? list.find((i) => i > now) : [...list].reverse().find((i) => i < now);
      if (next !== undefined) setFrame(next);
    };

    let busy = false, again = false, renders = 0, objectUrl = null;
    async function render() {
      if (busy) { again = true; return; }
      busy = true;
      const frame = Number(slider.value);
      const wanted = `/gui/api/tuner/${sid}/original/${frame}`;
      if (original.dataset.src !== wanted) { original.src = wanted; original.dataset.src = wanted; }
      try {
        const t0 = performance.now();
        const { data, response } = await api("POST", `/gui/api/tuner/${sid}/render`, { frame, settings });
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(data);
        swapped.src = objectUrl;
        await swapped.decode().catch(() => {});
        renders += 1;
        swapped.dataset.renders = String(renders);
        timing.textContent = `frame ${frame}: rendered in ${response.headers.get("X-Render-Ms")} ms on the server, ${Math.round(performance.now() - t0)} ms round trip`;
      } catch (err) { timing.textContent = err.message; timing.className = "timing error"; }
      busy = false;
      if (again) { again = false; render(); }
    }
    onLeave(() => objectUrl && URL.revokeObjectURL(objectUrl));

    const output = pathInput("any", video.input.value.replace(/(\.\w+)?$/, "_swapped.mp4"), "output video");
    const configPath = pathInput("any", "convert.toml", "config file");
    const actionStatus = el("p", { class: "muted" });
    fill(body,
      el("div", { class: "scrub" }, el("button", { class: "secondary", text: "◀ face", onclick: jump(-1) }), slider, number,
        el("button", { class: "secondary", text: "face ▶", onclick: jump(1) })),
      el("div", { class: "tuner-controls" }, controls),
      el("div", { class: "tuner-view" }, el("figure", {}, el("figcaption", { text: "original" }), original),
        el("figure", {}, el("figcaption", {}, "swapped · ", timing), swapped)),
      el("div", { class: "card" },
        el("div", { class: "toolbar" }, el("label", {}, "output", output.node),
          el("button", { class: "convert", text: "Convert with these settings", onclick: async () => {
            try {
              const { id } = await post(`/gui/api/tuner/${sid}/convert`, { settings, output: output.input.value.trim() });
              location.hash = `#/job/${id}`;
            } catch (err) { message(actionStatus, err.message, "error"); }
          } })),
        el("div", { class: "toolbar" }, el("label", {}, "config file", configPath.node),
          el("button", { class: "secondary save-config", text: "Save as -C config", onclick: async () => {
            try {
              const saved = await post(`/gui/api/tuner/${sid}/config`, { settings, path: configPath.input.value.trim() });
              message(actionStatus, `Saved ${saved.path}: python faceswap.py -C ${saved.path} convert -i … -o … -m …`, "ok");
            } catch (err) { message(actionStatus, err.message, "error"); }
          } })),
        actionStatus));
    render();
  }
  if (saved.model && saved.video) open();
}
