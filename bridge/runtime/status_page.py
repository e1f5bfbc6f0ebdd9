"""The status page served at ``/`` by :mod:`bridge.runtime.web`: one self-contained HTML document.

Why self-contained (inline CSS and JavaScript, no CDN, no fonts, no images): a gallery machine is
often offline, and a page that loads nothing from elsewhere shows the same thing on every network
and leaks nothing. It polls ``/health`` with ``fetch()`` about three times a second and draws:
the verdict and its reasons, one meter per signal (bars with values; triggers flash when they
fired since the last poll; the mel spectrum as small bars), the input device, packets/s, drops,
refused packets, overruns, latency, each target, the last mapping reload and the recent events.
Text from the daemon is set with ``textContent`` only (a file name cannot inject markup). Elements
carry ``id``/``data-signal`` names the tests read.
"""

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vjbridge</title>
<link rel="icon" href="data:,">
<style>
:root { --bg:#111418; --card:#1b2027; --line:#2b323c; --text:#e6e9ee; --dim:#8b95a3;
        --ok:#2fbf71; --degraded:#e0a526; --down:#e5484d; --bar:#3d8bfd; --trig:#ff5ca8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:16px; padding:12px 20px;
         border-bottom:1px solid var(--line); }
h1 { font-size:18px; margin:0; font-weight:600; }
h2 { font-size:12px; margin:0 0 8px; color:var(--dim); text-transform:uppercase;
     letter-spacing:.06em; font-weight:600; }
#status { padding:3px 12px; border-radius:12px; font-weight:700; text-transform:uppercase;
          background:var(--line); }
#status.ok { background:var(--ok); color:#06170d; }
#status.degraded { background:var(--degraded); color:#1e1500; }
#status.down { background:var(--down); color:#fff; }
#reasons { margin:0; padding:0; list-style:none; color:var(--text); }
#reasons li::before { content:"\\2022  "; color:var(--degraded); }
#updated { margin-left:auto; color:var(--dim); font-variant-numeric:tabular-nums; }
main { display:grid; grid-template-columns: minmax(320px, 1.3fr) minmax(320px, 1fr); gap:16px;
       padding:16px 20px; }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px;
        margin-bottom:16px; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:3px 14px; margin:0; }
dt { color:var(--dim); }
dd { margin:0; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
.state-running, .ok-text { color:var(--ok); }
.state-lost, .state-stalled, .state-stopped, .bad-text { color:var(--down); font-weight:600; }
.state-starting, .state-silent, .warn-text { color:var(--degraded); }
.meter { display:grid; grid-template-columns: 150px 1fr 80px; align-items:center; gap:10px;
         padding:2px 0; }
.meter .name { color:var(--dim); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.meter .track { position:relative; height:14px; background:#0c0f12; border-radius:3px;
                overflow:hidden; }
.meter .fill { position:absolute; left:0; top:0; bottom:0; width:0; background:var(--bar);
               transition: width 120ms linear; }
.meter .value { text-align:right; font-variant-numeric:tabular-nums; }
.meter.trigger .fill { background:var(--trig); }
.meter.trigger .track { transition: background 400ms ease-out; }
.meter.trigger.flash .track { background:var(--trig); transition:none; }
.meter .spectrum { display:flex; align-items:flex-end; height:100%; gap:1px; }
.meter .spectrum i { flex:1; background:var(--bar); min-height:1px; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); }
th { color:var(--dim); font-weight:500; }
td.num, th.num { text-align:right; }
#events { list-style:none; margin:0; padding:0; max-height:360px; overflow:auto; }
#events li { padding:3px 0; border-bottom:1px solid var(--line); }
#events .t { color:var(--dim); font-variant-numeric:tabular-nums; margin-right:8px; }
#events .WARNING .lvl, #events .ERROR .lvl, #events .CRITICAL .lvl { color:var(--down); }
#events .lvl { margin-right:6px; font-size:11px; }
#offline { display:none; padding:8px 20px; background:var(--down); color:#fff; font-weight:600; }
</style>
</head>
<body>
<header>
  <h1>vjbridge</h1>
  <span id="status">&hellip;</span>
  <ul id="reasons"></ul>
  <span id="updated">waiting for the first state&hellip;</span>
</header>
<div id="offline">No answer from vjbridge: the daemon is stopped or unreachable. Retrying&hellip;</div>
<main>
  <section>
    <div class="card"><h2>Signals</h2><div id="meters"></div></div>
    <div class="card"><h2>Recent events</h2><ul id="events"></ul></div>
  </section>
  <section>
    <div class="card"><h2>Input</h2><dl>
      <dt>source</dt><dd id="source"></dd>
      <dt>device</dt><dd id="device-state"></dd>
      <dt>input</dt><dd id="input-state"></dd>
      <dt>last audio</dt><dd id="audio-age"></dd>
      <dt>overruns</dt><dd id="overruns"></dd>
      <dt>xruns</dt><dd id="xruns"></dd>
      <dt>NaN blocks</dt><dd id="nonfinite"></dd>
    </dl></div>
    <div class="card"><h2>Output</h2><dl>
      <dt>packets/s</dt><dd id="packets-per-s"></dd>
      <dt>packets</dt><dd id="packets"></dd>
      <dt>drops</dt><dd id="drops"></dd>
      <dt>refused</dt><dd id="refused"></dd>
      <dt>latency</dt><dd id="latency"></dd>
      <dt>output rate</dt><dd id="output-rate"></dd>
      <dt>engine</dt><dd id="engine"></dd>
      <dt>up for</dt><dd id="uptime"></dd>
    </dl>
    <table id="targets"><thead><tr><th>target</th><th class="num">sent</th>
      <th class="num">drops</th><th class="num">refused</th><th>state</th></tr></thead>
      <tbody></tbody></table></div>
    <div class="card"><h2>Mapping</h2><dl>
      <dt>file</dt><dd id="mapping-path"></dd>
      <dt>last reload</dt><dd id="reload"></dd>
      <dt>control</dt><dd id="control"></dd>
    </dl></div>
  </section>
</main>
<script>
"use strict";
const POLL_MS = 333;
const $ = (id) => document.getElementById(id);
const meters = new Map();   // signal name -> {row, fill, value, spectrum}
const fired = new Map();    // trigger name -> the count at the last poll
const seenMax = new Map();  // unbounded signals: the largest value seen, for the bar's scale

function text(id, value, cls) {
  const el = $(id);
  el.textContent = value;
  if (cls !== undefined) el.className = cls;
}
function fmt(v) {
  if (v === null || v === undefined) return "\\u2013";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(3);
}
function ms(v) { return v === null || v === undefined ? "\\u2013" : v.toFixed(2) + " ms"; }
function seconds(v) {
  if (v === null || v === undefined) return "\\u2013";
  if (v < 120) return v.toFixed(1) + " s";
  if (v < 7200) return (v / 60).toFixed(1) + " min";
  return (v / 3600).toFixed(1) + " h";
}
function clock(iso) { return iso ? iso.slice(11, 19) : ""; }

function meter(sig) {
  let m = meters.get(sig.name);
  if (m) return m;
  const row = document.createElement("div");
  row.className = "meter " + sig.kind;
  row.dataset.signal = sig.name;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = sig.name;
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "fill";
  const value = document.createElement("span");
  value.className = "value";
  let spectrum = null;
  if (Array.isArray(sig.value)) {
    spectrum = document.createElement("div");
    spectrum.className = "spectrum";
    track.appendChild(spectrum);
  } else {
    track.appendChild(fill);
  }
  row.append(name, track, value);
  $("meters").appendChild(row);
  m = {row, fill, value, spectrum};
  meters.set(sig.name, m);
  return m;
}

function scale(sig, v) {
  const lo = sig.min === null ? 0 : sig.min;
  let hi = sig.max;
  if (hi === null) {  // unbounded: scale to the largest value seen
    hi = Math.max(seenMax.get(sig.name) || 1e-9, v);
    seenMax.set(sig.name, hi);
  }
  return hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0;
}

function drawSignals(signals) {
  const names = new Set();
  for (const sig of signals) {
    names.add(sig.name);
    const m = meter(sig);
    if (m.spectrum) {
      const bins = sig.value || [];
      while (m.spectrum.childElementCount < bins.length)
        m.spectrum.appendChild(document.createElement("i"));
      bins.forEach((b, i) => {
        m.spectrum.children[i].style.height = (100 * scale(sig, b || 0)).toFixed(1) + "%";
      });
      const peak = bins.length ? Math.max(...bins.map((b) => b || 0)) : null;
      m.value.textContent = fmt(peak);
      continue;
    }
    const v = sig.value;
    m.fill.style.width = v === null ? "0" : (100 * scale(sig, v)).toFixed(1) + "%";
    m.value.textContent = fmt(v);
    if (sig.kind === "trigger") {
      const before = fired.get(sig.name);
      if (before !== undefined && sig.fired > before) {
        m.row.classList.remove("flash");
        void m.row.offsetWidth;  // restart the fade
        m.row.classList.add("flash");
        setTimeout(() => m.row.classList.remove("flash"), 60);
      }
      fired.set(sig.name, sig.fired);
      m.value.textContent = fmt(v) + " \\u00d7" + sig.fired;
    }
  }
  for (const [name, m] of meters) {
    if (!names.has(name)) { m.row.remove(); meters.delete(name); }
  }
}

function drawTargets(targets) {
  const body = $("targets").tBodies[0];
  body.replaceChildren();
  for (const t of targets) {
    const tr = document.createElement("tr");
    const state = t.dropping ? ["dropping", "bad-text"] : !t.listening
      ? ["nothing listening", "warn-text"] : !t.reading ? ["not reading", "warn-text"]
      : ["ok", "ok-text"];
    const cells = [[t.name + " " + t.description, ""], [t.sent, "num"], [t.drops, "num"],
                   [t.refused, "num"], state];
    for (const [v, cls] of cells) {
      const td = document.createElement("td");
      td.textContent = v;
      td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function drawEvents(events) {
  const list = $("events");
  list.replaceChildren();
  for (const e of events.slice().reverse()) {
    const li = document.createElement("li");
    li.className = e.level;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = clock(e.time_iso);
    t.title = e.time_iso;
    const lvl = document.createElement("span");
    lvl.className = "lvl";
    lvl.textContent = e.level;
    const msg = document.createElement("span");
    msg.textContent = e.kind + ": " + e.message + (e.repeats ? "  (\\u00d7" + (e.repeats + 1) + ")" : "");
    li.append(t, lvl, msg);
    list.appendChild(li);
  }
  if (!events.length) {
    const li = document.createElement("li");
    li.textContent = "nothing happened yet";
    list.appendChild(li);
  }
}

function render(h) {
  $("offline").style.display = "none";
  text("status", h.status, h.status);
  document.title = "vjbridge: " + h.status;
  const reasons = $("reasons");
  reasons.replaceChildren(...(h.reasons || []).map((r) => {
    const li = document.createElement("li");
    li.textContent = r;
    return li;
  }));
  if (!h.engine) { text("updated", "engine starting\\u2026"); return; }
  text("updated", "updated " + clock(h.time_iso) + " \\u00b7 #" + h.seq);
  const s = h.source, e = h.engine, o = h.outputs;
  text("source", s.description);
  text("device-state", s.device_state, "state-" + s.device_state);
  text("input-state", s.input_state === null ? "\\u2013" :
       s.input_state + (s.silent_for_s ? " for " + seconds(s.silent_for_s) : ""),
       s.input_state ? "state-" + s.input_state : "");
  text("audio-age", s.audio_age_s === null ? "\\u2013" : seconds(s.audio_age_s) + " ago");
  text("overruns", s.overruns + (s.overruns_per_s > 0 ? " (" + fmt(s.overruns_per_s) + "/s)" : ""),
       s.overruns_per_s > 0 ? "warn-text" : "");
  text("xruns", s.xruns);
  text("nonfinite", s.nonfinite_blocks === undefined ? "\\u2013" : s.nonfinite_blocks,
       s.nonfinite_blocks > 0 ? "warn-text" : "");
  text("packets-per-s", fmt(e.packets_per_s));
  text("packets", e.packets + (e.held ? " (" + e.held + " held)" : ""));
  text("drops", o.drops, o.targets.some((t) => t.dropping) ? "bad-text" : "");
  text("refused", o.refused, o.targets.some((t) => !t.listening) ? "warn-text" : "");
  text("latency", ms(h.latency_ms.median) + " / " + ms(h.latency_ms.p99) + " (p50 / p99)");
  text("output-rate", fmt(e.output_rate) + " Hz");
  text("engine", e.state + ", priority " + e.priority + ", " + e.restarts + " stream restarts");
  text("uptime", seconds(h.uptime_s));
  text("mapping-path", h.mapping.path || "none (raw OSC)");
  const r = h.mapping.reload;
  if (r) text("reload", (r.ok ? "OK " : "REFUSED ") + clock(r.time_iso) + ": " + r.message,
              r.ok ? "ok-text" : "bad-text");
  else text("reload", "none since start", "");
  text("control", h.control || "closed");
  drawSignals(h.signals);
  drawTargets(o.targets);
  drawEvents(h.events);
}

function offline() {
  $("offline").style.display = "block";
  text("status", "down", "down");
  document.title = "vjbridge: unreachable";
}

async function poll() {
  try {
    const r = await fetch("/health", {cache: "no-store"});
    render(await r.json());
  } catch (err) {
    offline();
  } finally {
    setTimeout(poll, POLL_MS);
  }
}
poll();
</script>
</body>
</html>
"""
