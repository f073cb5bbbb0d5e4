/// The admin dashboard's static files, compiled into the binary so the relay serves them without a
/// build step, a CDN or files on disk. Plain HTML, CSS and JavaScript: the page polls the admin API
/// (`/health`, `/agents`, `/tunnels`, `/rules`, `/requests`) once a second, draws bytes/s per tunnel
/// from the deltas of the byte totals, and shows the request inspector with its Replay button.
/// The contents sit at column 0 inside raw literals so they stay byte-for-byte what a browser gets.
enum DashboardAssets {
    /// The page at `<root>/`. The server replaces `{{API_BASE}}` with the API's path (e.g. `/api`) when serving it;
    /// the script reads it from the `api-base` meta tag, so the dashboard follows the configured pathPrefix.
    static let indexHTML: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="api-base" content="{{API_BASE}}">
<title>Tunnel relay</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script src="dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <h1>Tunnel relay</h1>
  <dl id="health" class="health">
    <dt>status</dt><dd data-field="status">–</dd>
    <dt>role</dt><dd data-field="role">–</dd>
    <dt>version</dt><dd data-field="version">–</dd>
    <dt>uptime</dt><dd data-field="uptimeSeconds">–</dd>
    <dt>agents</dt><dd data-field="agents">–</dd>
    <dt>tunnels</dt><dd data-field="tunnels">–</dd>
  </dl>
  <p id="status" class="status" role="status" data-polls="0">Connecting…</p>
  <p id="error" class="error" role="alert" hidden></p>
  <p id="notice" class="notice" role="status" title="click to dismiss" hidden></p>
</header>
<main>
  <section class="panel">
    <h2>Traffic <small>bytes/s per tunnel, last 60 s</small></h2>
    <div class="graph">
      <svg id="traffic" viewBox="0 0 600 160" preserveAspectRatio="none" role="img" aria-label="bytes per second per tunnel" data-samples="0"></svg>
      <span id="traffic-max" class="axis"></span>
    </div>
    <ul id="traffic-legend" class="legend"></ul>
  </section>
  <section class="panel">
    <h2>Rules</h2>
    <div class="scroll"><table id="rules"><thead></thead><tbody></tbody></table></div>
    <form id="rule-form" class="inline-form">
      <input name="hostname" placeholder="hostname" required autocomplete="off">
      <input name="tunnel" placeholder="tunnel" required autocomplete="off" list="tunnel-ids">
      <datalist id="tunnel-ids"></datalist>
      <button type="submit">Add rule</button>
    </form>
  </section>
  <section class="panel wide">
    <h2>Tunnels</h2>
    <div class="scroll"><table id="tunnels"><thead></thead><tbody></tbody></table></div>
  </section>
  <section class="panel wide">
    <h2>Agents</h2>
    <div class="scroll"><table id="agents"><thead></thead><tbody></tbody></table></div>
  </section>
  <section class="panel wide">
    <h2>Requests
      <label><select id="request-tunnel"><option value="">all tunnels</option></select></label>
      <label><input type="checkbox" id="requests-pause"> pause</label>
    </h2>
    <div class="scroll"><table id="requests" class="clickable"><thead></thead><tbody></tbody></table></div>
  </section>
  <section id="request-detail" class="panel wide detail" hidden>
    <h2>Request <span data-field="id"></span>
      <button type="button" id="replay">Replay</button>
      <button type="button" id="detail-close">Close</button>
    </h2>
    <div id="request-exchange"></div>
    <div id="replay-result" hidden></div>
  </section>
</main>
</body>
</html>
"""#

    /// `<root>/dashboard.js` (`text/javascript`): polls the API every second and renders it with DOM calls only
    /// (no innerHTML: hostnames, paths and header values are attacker-controlled).
    static let script: String = #"""
// Tunnel relay dashboard: polls the admin API once a second and renders it with DOM calls only.
// Every string from the API goes through textContent or setAttribute (hostnames, paths and header
// values come from visitors), never through HTML parsing.
"use strict";
(() => {
  const POLL_MS = 1000;
  const WINDOW_S = 60;
  const REQUEST_LIMIT = 50;
  const COLORS = ["#0969da", "#1a7f37", "#cf222e", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#6e7781"];
  const SVG_NS = "http://www.w3.org/2000/svg";

  // The server fills the meta tag with the API's path (pathPrefix); relative paths resolve against
  // the page, so the dashboard works behind any prefix. Unfilled (opened from disk): "api" next to the page.
  const meta = document.querySelector('meta[name="api-base"]');
  let base = meta ? (meta.getAttribute("content") || "") : "";
  if (base === "" || base.includes("{{")) base = "api";
  const apiBase = new URL(base.replace(/\/+$/, "") + "/", document.baseURI);
  const apiURL = (path) => new URL(path.replace(/^\/+/, ""), apiBase);

  const state = {
    polls: 0,
    history: new Map(),     // tunnel id -> [{t, bytesIn, bytesOut}] (t in seconds, monotonic)
    colors: new Map(),      // tunnel id -> colour, stable while the page lives
    selected: null,         // request id shown in the detail panel
    selectedStatus: null,
    requests: new Map(),    // request id -> last listed Request
    timer: null,
  };

  const $ = (id) => document.getElementById(id);

  // ---- formatting: human text in the cell, the exact value in data-value ----
  function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let v = Number(n), i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + " " + units[i];
  }
  const fmtRate = (n) => fmtBytes(Math.round(n)) + "/s";
  const fmtCount = (n) => (n === null || n === undefined) ? "–" : Number(n).toLocaleString("en-US");
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    if (ms < 1) return ms.toFixed(2) + " ms";
    if (ms < 1000) return ms.toFixed(1) + " ms";
    return (ms / 1000).toFixed(2) + " s";
  }
  function fmtSeconds(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const parts = [];
    if (d) parts.push(d + "d");
    if (d || h) parts.push(h + "h");
    if (d || h || m) parts.push(m + "m");
    parts.push((s % 60) + "s");
    return parts.join(" ");
  }
  function fmtAge(iso) {
    const t = Date.parse(iso);
    return isNaN(t) ? String(iso) : fmtSeconds((Date.now() - t) / 1000) + " ago";
  }
  function fmtClock(iso) {
    const t = new Date(iso);
    if (isNaN(t.getTime())) return String(iso);
    return t.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(t.getMilliseconds()).padStart(3, "0");
  }
  const fmtList = (a) => (a && a.length) ? a.join(", ") : "–";
  // The exact value a cell carries in data-value: strings as they are, numbers and booleans as JSON,
  // null as "", arrays and objects as JSON.
  function exact(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    return JSON.stringify(v);
  }
  function statusClass(status) { return status ? "s" + String(status).charAt(0) : "muted"; }

  // ---- DOM helpers ----
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function setAttr(node, name, value) {
    if (value === undefined || value === null) node.removeAttribute(name);
    else if (node.getAttribute(name) !== String(value)) node.setAttribute(name, value);
  }

  // A column: field (the API key, also the cell's data-field), label, get(item) -> raw value,
  // fmt(raw, item) -> text, cls(raw) -> class, or render(td, item) for cells with controls.
  function header(table, columns) {
    const tr = el("tr");
    for (const c of columns) tr.appendChild(el("th", { class: c.num ? "num" : null, scope: "col" }, c.label));
    table.tHead.replaceChildren(tr);
  }

  function fill(td, c, item) {
    if (c.render) { c.render(td, item); return; }
    const raw = c.get ? c.get(item) : item[c.field];
    const text = c.fmt ? c.fmt(raw, item) : (raw === null || raw === undefined ? "–" : Array.isArray(raw) ? fmtList(raw) : String(raw));
    setText(td, text);
    setAttr(td, "data-value", exact(raw));
    setAttr(td, "title", c.title ? c.title(raw, item) : null);
    const cls = [c.num ? "num" : "", c.wrap ? "wrap" : "", c.cls ? c.cls(raw, item) : ""].filter(Boolean).join(" ");
    setAttr(td, "class", cls || null);
  }

  // Updates rows in place, keyed by data-id, so a row being clicked or selected survives a refresh.
  function renderTable(id, items, key, columns) {
    const table = $(id);
    const tbody = table.tBodies[0];
    const existing = new Map();
    for (const tr of Array.from(tbody.rows)) {
      if (tr.hasAttribute("data-id")) existing.set(tr.getAttribute("data-id"), tr); else tr.remove();
    }
    const seen = new Set();
    let previous = null;
    for (const item of items) {
      const k = String(key(item));
      if (seen.has(k)) continue;
      seen.add(k);
      let tr = existing.get(k);
      if (!tr) {
        tr = el("tr", { "data-id": k });
        for (const c of columns) tr.appendChild(el("td", { "data-field": c.field }));
      }
      columns.forEach((c, i) => fill(tr.cells[i], c, item));
      const next = previous ? previous.nextSibling : tbody.firstChild;
      if (next !== tr) tbody.insertBefore(tr, next);
      previous = tr;
    }
    for (const [k, tr] of existing) if (!seen.has(k)) tr.remove();
    if (seen.size === 0) {
      const tr = el("tr", { class: "empty" });
      tr.appendChild(el("td", { colspan: String(columns.length) }, "none"));
      tbody.appendChild(tr);
    }
    table.setAttribute("data-count", String(seen.size));
    table.setAttribute("data-loaded", "true");
    table.removeAttribute("data-unavailable");
  }

  function unavailable(id) {
    const table = $(id);
    if (table.getAttribute("data-unavailable") === "true") return;
    const columns = table.tHead.rows[0] ? table.tHead.rows[0].cells.length : 1;
    const tr = el("tr", { class: "empty" });
    tr.appendChild(el("td", { colspan: String(columns) }, "not available on this listener"));
    table.tBodies[0].replaceChildren(tr);
    table.setAttribute("data-unavailable", "true");
    table.removeAttribute("data-loaded");
    table.removeAttribute("data-count");
  }

  // ---- API ----
  async function call(method, path, body) {
    const init = { method, cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } };
    if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
    // A server that stops answering must not stall the polls for good.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10000);
    init.signal = abort.signal;
    let response, payload = null;
    try {
      response = await fetch(apiURL(path), init);
      if (response.status !== 204) { try { payload = await response.json(); } catch (e) { if (abort.signal.aborted) throw e; payload = null; } }
    } catch (e) {
      throw new Error(method + " " + path + ": " + (e.name === "AbortError" ? "no answer in 10 s" : e.message));
    } finally { clearTimeout(timer); }
    if (!response.ok) {
      const reason = payload && typeof payload.error === "string" ? payload.error : response.statusText;
      const hint = response.status === 401 ? " (reload the page to log in)" : "";
      const err = new Error(method + " " + path + ": " + response.status + " " + reason + hint);
      err.status = response.status;
      throw err;
    }
    return payload;
  }
  const get = (path) => call("GET", path);
  const enc = encodeURIComponent;

  // ---- columns ----
  const agentColumns = [
    { field: "id", label: "id" },
    { field: "peer", label: "peer" },
    { field: "version", label: "version" },
    { field: "token", label: "token" },
    { field: "tunnels", label: "tunnels", wrap: true },
    { field: "connectedAt", label: "connected", fmt: fmtAge, title: (v) => v },
    { field: "rttMilliseconds", label: "RTT", num: true, fmt: fmtMs },
    { field: "openStreams", label: "open", num: true, fmt: fmtCount },
    { field: "streamsTotal", label: "streams", num: true, fmt: fmtCount },
    { field: "bytesIn", label: "in", num: true, fmt: fmtBytes },
    { field: "bytesOut", label: "out", num: true, fmt: fmtBytes },
    { field: "goingAway", label: "state", fmt: (v) => v ? "draining" : "active", cls: (v) => v ? "s4" : "s2" },
    { field: "actions", label: "", render: (td, a) => actionButton(td, "Revoke", "revoke agent " + a.id,
        () => call("DELETE", "agents/" + enc(a.id))) },
  ];
  const tunnelColumns = [
    { field: "id", label: "id", render: (td, t) => {
        let sw = td.querySelector(".swatch"), name = td.querySelector("span.name");
        if (!sw) { sw = el("span", { class: "swatch" }); name = el("span", { class: "name" }); td.replaceChildren(sw, name); }
        sw.style.background = colorOf(t.id);
        setText(name, t.id);
        setAttr(td, "data-value", t.id);
      } },
    { field: "sessions", label: "agents", wrap: true },
    { field: "hostnames", label: "hostnames", wrap: true },
    { field: "openStreams", label: "open", num: true, fmt: fmtCount },
    { field: "streamsTotal", label: "streams", num: true, fmt: fmtCount },
    { field: "bytesIn", label: "in", num: true, fmt: fmtBytes },
    { field: "bytesOut", label: "out", num: true, fmt: fmtBytes },
    { field: "rate", label: "bytes/s", num: true, get: (t) => currentRate(t.id).total, fmt: fmtRate,
      title: (v, t) => { const r = currentRate(t.id); return "in " + fmtRate(r.in) + ", out " + fmtRate(r.out); } },
    { field: "requests", label: "responses", fmt: fmtClasses, get: (t) => t.requests ? sortedClasses(t.requests) : null },
    { field: "graph", label: "last 60 s", render: (td, t) => sparkline(td, t.id) },
  ];
  const ruleColumns = [
    { field: "hostname", label: "hostname", wrap: true },
    { field: "tunnel", label: "tunnel" },
    { field: "source", label: "source" },
    { field: "actions", label: "", render: (td, r) => actionButton(td, "Delete", "delete rule " + r.hostname,
        () => call("DELETE", "rules/" + enc(r.hostname))) },
  ];
  const requestColumns = [
    { field: "startedAt", label: "time", fmt: fmtClock, title: (v) => v },
    { field: "id", label: "id" },
    { field: "tunnel", label: "tunnel" },
    { field: "method", label: "method" },
    { field: "host", label: "host" },
    { field: "path", label: "path", wrap: true },
    { field: "status", label: "status", num: true, fmt: (v) => v === null ? "…" : String(v), cls: statusClass },
    { field: "durationMilliseconds", label: "duration", num: true, fmt: fmtMs },
    { field: "requestBytes", label: "sent", num: true, fmt: fmtBytes },
    { field: "responseBytes", label: "received", num: true, fmt: fmtBytes },
    { field: "client", label: "client" },
    { field: "protocol", label: "proto" },
    { field: "replayOf", label: "replay of", fmt: (v) => v === null ? "" : v },
  ];

  // Status classes in their own order (a JSON object's key order is the server's business).
  function sortedClasses(counts) {
    const out = {};
    for (const k of Object.keys(counts).sort()) out[k] = counts[k];
    return out;
  }
  function fmtClasses(counts) {
    if (!counts) return "–";
    return Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => k + " " + fmtCount(n)).join(" · ") || "–";
  }

  function actionButton(td, label, question, action) {
    let button = td.querySelector("button");
    if (!button) { button = el("button", { type: "button", class: "danger" }, label); td.replaceChildren(button); }
    button.onclick = async (event) => {
      event.stopPropagation();
      if (!window.confirm(question + "?")) return;
      button.disabled = true;
      try { await action(); notice(question + ": done", false); } catch (e) { notice(e.message, true); }
      finally { button.disabled = false; refreshSoon(); }
    };
  }

  // ---- traffic: bytes/s from the deltas of the totals between polls ----
  function colorOf(id) {
    if (!state.colors.has(id)) state.colors.set(id, COLORS[state.colors.size % COLORS.length]);
    return state.colors.get(id);
  }
  function record(tunnels, t) {
    const listed = new Set();
    for (const tunnel of tunnels) {
      listed.add(tunnel.id);
      const samples = state.history.get(tunnel.id) || [];
      samples.push({ t, bytesIn: tunnel.bytesIn, bytesOut: tunnel.bytesOut });
      while (samples.length > 2 && samples[1].t < t - WINDOW_S) samples.shift();
      state.history.set(tunnel.id, samples);
    }
    for (const id of Array.from(state.history.keys())) if (!listed.has(id)) state.history.delete(id);
  }
  // Rates per interval between two polls; a total that went down (relay restarted) counts as 0.
  function intervals(id) {
    const samples = state.history.get(id) || [];
    const out = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
      if (dt <= 0) continue;
      const rin = Math.max(0, (b.bytesIn - a.bytesIn) / dt), rout = Math.max(0, (b.bytesOut - a.bytesOut) / dt);
      out.push({ from: a.t, to: b.t, in: rin, out: rout, total: rin + rout });
    }
    return out;
  }
  function currentRate(id) {
    const iv = intervals(id);
    return iv.length ? iv[iv.length - 1] : { in: 0, out: 0, total: 0 };
  }
  // A step line: each interval's average rate held from its start to its end.
  function points(iv, now, width, height, max) {
    const x = (t) => (width - ((now - t) / WINDOW_S) * width).toFixed(1);
    const y = (r) => (height - 2 - (r / max) * (height - 6)).toFixed(1);
    const pts = [];
    for (const i of iv) { if (i.to < now - WINDOW_S) continue; pts.push(x(Math.max(i.from, now - WINDOW_S)) + "," + y(i.total), x(i.to) + "," + y(i.total)); }
    return pts;
  }
  function niceMax(v) {
    if (v <= 0) return 1024;
    const p = Math.pow(2, Math.ceil(Math.log2(v)));
    return Math.max(1024, p);
  }
  function drawGraph(tunnels, now) {
    const graph = $("traffic");
    const all = tunnels.map((t) => ({ id: t.id, iv: intervals(t.id) }));
    let peak = 0;
    for (const s of all) for (const i of s.iv) if (i.to >= now - WINDOW_S) peak = Math.max(peak, i.total);
    const max = niceMax(peak);
    const lines = [];
    let samples = 0;
    for (const s of all) {
      const pts = points(s.iv, now, 600, 160, max);
      const own = s.iv.filter((i) => i.to >= now - WINDOW_S).reduce((m, i) => Math.max(m, i.total), 0);
      samples = Math.max(samples, pts.length);
      lines.push(svg("polyline", { points: pts.join(" "), stroke: colorOf(s.id), "data-tunnel": s.id,
        "data-points": String(pts.length), "data-peak": String(own) }));
    }
    graph.replaceChildren(...lines);
    graph.setAttribute("data-samples", String(samples));
    graph.setAttribute("data-max", String(max));
    setText($("traffic-max"), fmtRate(max));
    const legend = $("traffic-legend");
    legend.replaceChildren(...tunnels.map((t) => {
      const r = currentRate(t.id);
      const li = el("li", { "data-id": t.id });
      const sw = el("span", { class: "swatch" });
      sw.style.background = colorOf(t.id);
      li.append(sw, el("span", null, t.id + " "), el("span", { class: "muted", "data-value": String(r.total) }, fmtRate(r.total)));
      return li;
    }));
  }
  function sparkline(td, id) {
    let box = td.querySelector("svg");
    if (!box) { box = svg("svg", { class: "spark", viewBox: "0 0 120 24", preserveAspectRatio: "none" }); td.replaceChildren(box); }
    const iv = intervals(id);
    const now = iv.length ? iv[iv.length - 1].to : 0;
    const max = niceMax(Math.max(0, ...iv.map((i) => i.total)));
    const pts = points(iv, now, 120, 24, max);
    box.replaceChildren(svg("polyline", { points: pts.join(" "), stroke: colorOf(id) }));
  }

  // ---- request inspector ----
  function decodeBody(b64) {
    let bytes;
    try { bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); } catch (e) { return { text: "(not base64)", kind: "invalid", size: 0 }; }
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return { text, kind: "text", size: bytes.length };
    } catch (e) { /* not UTF-8: hex below */ }
    const lines = [];
    const shown = Math.min(bytes.length, 4096);
    for (let off = 0; off < shown; off += 16) {
      const row = Array.from(bytes.subarray(off, Math.min(off + 16, shown)));
      const hex = row.map((b) => b.toString(16).padStart(2, "0")).join(" ");
      const ascii = row.map((b) => b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".").join("");
      lines.push(off.toString(16).padStart(6, "0") + "  " + hex.padEnd(48) + "  " + ascii);
    }
    if (bytes.length > shown) lines.push("… " + (bytes.length - shown) + " more bytes");
    return { text: lines.join("\n"), kind: "binary", size: bytes.length };
  }
  function headersTable(part, headers) {
    const table = el("table", { class: "headers", "data-part": part });
    const tbody = el("tbody");
    for (const h of headers || []) {
      const tr = el("tr", { "data-name": h.name });
      tr.append(el("td", { "data-field": "name" }, h.name), el("td", { "data-field": "value" }, h.value));
      tbody.appendChild(tr);
    }
    if (!headers || headers.length === 0) tbody.appendChild(el("tr", { class: "empty" }, null)).appendChild(el("td", { colspan: "2" }, "none"));
    table.appendChild(tbody);
    return table;
  }
  function bodyBlock(part, b64, truncated) {
    const wrap = el("div", { "data-part": part + "-wrap" });
    if (b64 === null || b64 === undefined) {
      wrap.appendChild(el("p", { class: "muted", "data-part": part }, "body not kept"));
      return wrap;
    }
    const decoded = decodeBody(b64);
    const note = decoded.kind + ", " + fmtBytes(decoded.size) + (truncated ? ", truncated" : "");
    wrap.append(el("p", { class: "muted" }, note),
      el("pre", { class: "body", "data-part": part, "data-value": b64, "data-truncated": String(!!truncated) }, decoded.text));
    return wrap;
  }
  const LABELS = { durationMilliseconds: "duration", requestBytes: "request bytes", responseBytes: "response bytes",
    startedAt: "started", replayOf: "replay of" };
  function exchangeView(r) {
    const root = el("div", { class: "exchange-view", "data-id": r.id });
    const dl = el("dl", { class: "summary" });
    const rows = [
      ["id", r.id], ["tunnel", r.tunnel], ["method", r.method], ["host", r.host], ["path", r.path],
      ["protocol", r.protocol], ["status", r.status], ["durationMilliseconds", r.durationMilliseconds, fmtMs],
      ["requestBytes", r.requestBytes, fmtBytes], ["responseBytes", r.responseBytes, fmtBytes], ["client", r.client],
      ["startedAt", r.startedAt], ["replayOf", r.replayOf],
    ];
    for (const [field, value, f] of rows) {
      dl.append(el("dt", null, LABELS[field] || field), el("dd", { "data-field": field, "data-value": exact(value) },
        f ? f(value) : (value === null || value === undefined ? "–" : String(value))));
    }
    root.appendChild(dl);
    const grid = el("div", { class: "exchange" });
    const req = el("div"), res = el("div");
    req.append(el("h3", null, "Request headers"), headersTable("request-headers", r.requestHeaders),
      el("h3", null, "Request body"), bodyBlock("request-body", r.requestBody, r.requestBodyTruncated));
    res.append(el("h3", null, "Response headers"), headersTable("response-headers", r.responseHeaders),
      el("h3", null, "Response body"), bodyBlock("response-body", r.responseBody, r.responseBodyTruncated));
    grid.append(req, res);
    root.appendChild(grid);
    return root;
  }
  function markSelected() {
    for (const tr of $("requests").tBodies[0].rows) tr.classList.toggle("selected", tr.getAttribute("data-id") === state.selected);
  }
  // refresh: the same request again because its list entry changed (an answer arrived); keeps the
  // Replay answer and the scroll position.
  async function showRequest(id, refresh) {
    state.selected = id;
    markSelected();
    const panel = $("request-detail");
    panel.hidden = false;
    if (!refresh) {
      panel.setAttribute("data-id", id);
      panel.removeAttribute("data-loaded");
      setText(panel.querySelector('h2 [data-field="id"]'), id);
      $("replay-result").hidden = true;
      $("replay-result").removeAttribute("data-id");
      $("replay-result").removeAttribute("data-error");
      $("replay-result").replaceChildren();
    }
    try {
      const r = await get("requests/" + enc(id));
      if (state.selected !== id) return;
      state.selectedStatus = r.status;
      $("request-exchange").replaceChildren(exchangeView(r));
      panel.setAttribute("data-loaded", "true");
      if (!refresh) panel.scrollIntoView({ block: "nearest" });
    } catch (e) {
      if (state.selected !== id) return;
      state.selectedStatus = undefined;
      $("request-exchange").replaceChildren(el("p", { class: "error" }, e.message));
    }
  }
  async function replay() {
    const id = state.selected;
    if (!id) return;
    const button = $("replay"), out = $("replay-result");
    button.disabled = true;
    out.hidden = false;
    out.removeAttribute("data-id");
    out.removeAttribute("data-error");
    out.replaceChildren(el("p", { class: "muted" }, "Replaying " + id + "…"));
    try {
      const r = await call("POST", "requests/" + enc(id) + "/replay");
      if (state.selected !== id) return;
      out.setAttribute("data-id", r.id);
      out.replaceChildren(el("h3", null, "Replay answer (" + r.id + ")"), exchangeView(r));
      refreshSoon();
    } catch (e) {
      out.setAttribute("data-error", e.message);
      out.replaceChildren(el("p", { class: "error" }, e.message));
    } finally { button.disabled = false; }
  }
  function closeDetail() {
    state.selected = null;
    $("request-detail").hidden = true;
    $("request-detail").removeAttribute("data-id");
    markSelected();
  }

  // ---- polling ----
  // The outcome of an action (revoke, add or delete a rule) stays until the next one or a click on it;
  // the polls' own errors come and go with each poll.
  function notice(message, failed) {
    const n = $("notice");
    n.hidden = false;
    n.className = failed ? "notice error" : "notice";
    setText(n, message);
  }
  function showError(message) {
    const e = $("error");
    e.hidden = !message;
    setText(e, message || "");
  }
  function renderHealth(h) {
    const box = $("health");
    const values = { status: h.status, role: h.role, version: h.version, uptimeSeconds: h.uptimeSeconds, agents: h.agents, tunnels: h.tunnels };
    for (const [field, v] of Object.entries(values)) {
      const dd = box.querySelector('[data-field="' + field + '"]');
      setText(dd, field === "uptimeSeconds" ? fmtSeconds(v) : (v === null || v === undefined ? "–" : String(v)));
      setAttr(dd, "data-value", exact(v));
    }
  }
  function renderTunnelChoices(tunnels) {
    const select = $("request-tunnel"), list = $("tunnel-ids");
    const ids = tunnels.map((t) => t.id);
    const current = Array.from(select.options).slice(1).map((o) => o.value);
    if (ids.join("\n") !== current.join("\n")) {
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "" }, "all tunnels"), ...ids.map((id) => el("option", { value: id }, id)));
      select.value = ids.includes(chosen) ? chosen : "";
      list.replaceChildren(...ids.map((id) => el("option", { value: id })));
    }
  }
  function requestsPath() {
    const tunnel = $("request-tunnel").value;
    return "requests?limit=" + REQUEST_LIMIT + (tunnel ? "&tunnel=" + enc(tunnel) : "");
  }

  async function poll() {
    const paused = $("requests-pause").checked;
    const names = ["health", "agents", "tunnels", "rules", "requests"];
    const results = await Promise.allSettled([get("health"), get("agents"), get("tunnels"), get("rules"),
      paused ? Promise.resolve(null) : get(requestsPath())]);
    const now = performance.now() / 1000;
    const errors = [];
    results.forEach((r, i) => {
      if (r.status !== "rejected") return;
      // 404: this listener does not offer that list (e.g. an agent's API); say so in the table, not as an error.
      if (i > 0 && r.reason && r.reason.status === 404) { unavailable(names[i]); return; }
      errors.push(r.reason && r.reason.message ? r.reason.message : names[i] + " failed");
    });
    const value = (i) => results[i].status === "fulfilled" ? results[i].value : null;
    const health = value(0), agents = value(1), tunnels = value(2), rules = value(3), requests = value(4);
    try {
      if (health) renderHealth(health);
      if (agents) renderTable("agents", agents.agents || [], (a) => a.id, agentColumns);
      if (tunnels) {
        const list = tunnels.tunnels || [];
        record(list, now);
        renderTable("tunnels", list, (t) => t.id, tunnelColumns);
        renderTunnelChoices(list);
        drawGraph(list, now);
      }
      if (rules) renderTable("rules", rules.rules || [], (r) => r.hostname, ruleColumns);
      if (requests) {
        const list = requests.requests || [];
        state.requests = new Map(list.map((r) => [r.id, r]));
        renderTable("requests", list, (r) => r.id, requestColumns);
        markSelected();
        const shown = state.requests.get(state.selected);
        if (shown && shown.status !== state.selectedStatus && $("request-detail").hasAttribute("data-loaded")) showRequest(state.selected, true);
      }
    } catch (e) {
      errors.push("render: " + e.message);
    }
    const status = $("status");
    if (errors.length === 0) state.polls++;
    const at = new Date();
    status.setAttribute("data-polls", String(state.polls));
    if (errors.length === 0) status.setAttribute("data-refreshed", at.toISOString());
    setText(status, (errors.length ? "Refresh failed " : "Last refresh ") + at.toLocaleTimeString("en-GB", { hour12: false }) + (paused ? " · requests paused" : ""));
    showError(errors.length ? errors.join(" · ") : null);
    return errors.length === 0;
  }
  // One chain of polls: a refresh asked for while a poll is in flight runs right after it.
  let running = false, again = false;
  async function loop() {
    clearTimeout(state.timer);
    if (running) { again = true; return; }
    running = true;
    const started = performance.now();
    try { await poll(); } catch (e) { showError(e.message); }
    running = false;
    const delay = again ? 0 : Math.max(50, POLL_MS - (performance.now() - started));
    again = false;
    state.timer = setTimeout(loop, delay);
  }
  const refreshSoon = () => { loop(); };

  // ---- wiring ----
  header($("agents"), agentColumns);
  header($("tunnels"), tunnelColumns);
  header($("rules"), ruleColumns);
  header($("requests"), requestColumns);
  $("requests").tBodies[0].addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-id]");
    if (tr) showRequest(tr.getAttribute("data-id"));
  });
  $("replay").addEventListener("click", replay);
  $("notice").addEventListener("click", () => { $("notice").hidden = true; });
  $("detail-close").addEventListener("click", closeDetail);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeDetail(); });
  $("request-tunnel").addEventListener("change", refreshSoon);
  $("requests-pause").addEventListener("change", refreshSoon);
  $("rule-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const hostname = form.elements.hostname.value.trim(), tunnel = form.elements.tunnel.value.trim();
    try { await call("POST", "rules", { hostname, tunnel }); form.reset(); notice("rule " + hostname + " → " + tunnel + " added", false); }
    catch (e) { notice(e.message, true); }
    refreshSoon();
  });
  loop();
})();
"""#

    /// `<root>/dashboard.css` (`text/css`).
    static let style: String = #"""
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1d2430; --muted: #667085; --panel: #ffffff; --line: #d9dee7;
  --ok: #1a7f37; --warn: #9a6700; --err: #cf222e; --accent: #0969da; --sel: #ddf4ff;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #8b949e; --panel: #161b22; --line: #30363d;
          --ok: #3fb950; --warn: #d29922; --err: #f85149; --accent: #58a6ff; --sel: #1f3a5f; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: .75rem 1rem;
             background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
h2 small { color: var(--muted); font-weight: normal; }
h3 { font-size: .9rem; margin: .75rem 0 .25rem; }
dl.health { display: flex; flex-wrap: wrap; gap: .25rem .75rem; margin: 0; }
dl.health dt { color: var(--muted); }
dl.health dd { margin: 0 0 0 -.5rem; font-weight: 600; }
.status { margin: 0; color: var(--muted); margin-left: auto; }
.error { margin: 0; color: var(--err); flex-basis: 100%; }
.notice { margin: 0; flex-basis: 100%; cursor: pointer; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 34rem), 1fr)); gap: 1rem; padding: 1rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; min-width: 0; }
.wide { grid-column: 1 / -1; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: .85rem; }
td.num, th.num { text-align: right; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 12rem; }
tr.empty td { color: var(--muted); font-style: italic; }
table.clickable tbody tr[data-id] { cursor: pointer; }
table.clickable tbody tr[data-id]:hover { background: var(--sel); }
tr.selected { background: var(--sel); outline: 1px solid var(--accent); }
.s2 { color: var(--ok); } .s3 { color: var(--accent); } .s4 { color: var(--warn); } .s5 { color: var(--err); }
.muted { color: var(--muted); }
.graph { position: relative; }
#traffic { width: 100%; height: 160px; display: block; border: 1px solid var(--line); border-radius: 4px;
           background: repeating-linear-gradient(to bottom, transparent 0 39px, var(--line) 39px 40px); }
#traffic polyline, .spark polyline { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.axis { position: absolute; top: 2px; left: 6px; font-size: .75rem; color: var(--muted); }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; padding: 0; margin: .5rem 0 0; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em; vertical-align: -.05em; }
.spark { width: 120px; height: 24px; display: block; }
button { font: inherit; padding: .15rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--accent); }
button.danger:hover { border-color: var(--err); color: var(--err); }
button:disabled { opacity: .5; cursor: progress; }
.inline-form { display: flex; gap: .5rem; margin-top: .5rem; flex-wrap: wrap; }
input, select { font: inherit; padding: .15rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
.detail dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
.detail dl.summary dt { color: var(--muted); }
.detail dl.summary dd { margin: 0; word-break: break-all; }
.exchange { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 28rem), 1fr)); gap: 0 1.5rem; }
.headers td:first-child { color: var(--muted); }
.headers td { white-space: normal; word-break: break-all; }
pre.body { max-height: 20rem; overflow: auto; background: var(--bg); border: 1px solid var(--line); border-radius: 4px;
           padding: .5rem; margin: 0; white-space: pre-wrap; word-break: break-all; font-size: .8rem; }
#replay-result { margin-top: 1rem; padding-top: .5rem; border-top: 2px dashed var(--line); }
"""#
}
