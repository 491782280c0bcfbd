// The cutover dashboard: talks only to the gateway's own /admin API with a
// bearer token kept in sessionStorage (gone when the tab closes).
"use strict";

const TOKEN_KEY = "lc_admin_token";
const COLORS = { legacy: "#6a5acd", "app-blue": "#1e88e5", "app-green": "#2e7d32", beta: "#ef6c00",
  "diff rate": "#c62828", "shadow errors": "#757575" };
const $ = (id) => document.getElementById(id);
let pending = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + token() }, options.headers || {});
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 401) { signOut("Your session has ended; sign in again."); }
  return { ok: resp.ok, status: resp.status, body };
}

function say(text, isError) {
  const m = $("message");
  m.textContent = text;
  m.className = isError ? "error" : "";
}

function showConsole(on) {
  $("login").hidden = on;
  $("console").hidden = !on;
  $("logout").hidden = !on;
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  showConsole(false);
  $("login-error").textContent = reason || "";
}

async function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  const check = await api("/admin/migration?action=get_status");
  if (!check.ok) {
    signOut(check.status === 403 ? "This account is not an admin." : "Sign-in refused.");
    return;
  }
  showConsole(true);
  refresh();
}

function perBranch(map) {
  if (!map) return "unavailable";
  return Object.entries(map).map(([k, v]) => k + ": " + v).join(", ") || "no traffic";
}

async function refresh() {
  if (!token()) return;
  const [status, audit, history, beta, shadow, dead] = await Promise.all([
    api("/admin/migration?action=get_status"),
    api("/admin/audit"),
    api("/admin/metrics/history"),
    api("/admin/beta"),
    api("/admin/shadow"),
    api("/admin/dead-letters"),
  ]);
  if (status.ok) {
    const s = status.body;
    $("traffic-percentage").textContent = s.traffic_percentage;
    $("maintenance-mode").textContent = s.maintenance_mode;
    $("current-version").textContent = s.current_version;
    $("last-updated").textContent = s.last_updated
      ? s.last_updated + " (" + s.config_age_seconds + " s ago)" : "never";
    $("active-users").textContent = perBranch(s.active_users);
    $("error-rate").textContent = perBranch(s.error_rate && Object.fromEntries(
      Object.entries(s.error_rate).map(([k, v]) => [k, v + "%"])));
    $("replication").textContent = replicationText(s.replication);
    $("replication").className = s.replication && s.replication.state === "unhealthy" ? "error" : "";
    $("beta-traffic").textContent = s.beta
      ? `${s.beta.requests} requests, ${s.beta.error_rate}% errors` : "unavailable";
  }
  if (audit.ok) renderAudit(audit.body.entries || []);
  if (beta.ok) renderBeta(beta.body.tokens || []);
  if (history.ok) renderCharts(history.body.points || []);
  if (shadow.ok) renderShadow(shadow.body);
  $("dead-letters").textContent = dead.ok ? deadLettersText(dead.body) : "unavailable";
  $("dead-letters").className = dead.ok && dead.body.count === 0 ? "" : "error";
}

// What the app's queue consumer gave up on: each is data at risk until handled.
function deadLettersText(d) {
  if (d.count === 0) return "none";
  return `${d.count} unhandled — ` + d.dead_letters
    .map((l) => `#${l.id} file ${l.file_id}: ${l.reason} (${l.detail})`).join("; ");
}

const percent = (rate) => Math.round(rate * 1000) / 10 + "%";

// The comparisons per route, the newest difference of each (paths and value
// summaries only) and the diff rate per minute.
function renderShadow(r) {
  $("shadow-rate").textContent = percent(r.rate);
  const t = r.total;
  $("shadow-total").textContent = `${t.compared} compared, ${t.differing} differing (${t.diff_rate}%), ${t.errors} shadow errors`;
  $("shadow-problems").textContent = r.problems.length
    ? `Raises past ${r.thresholds.hold_above}% are held: ${r.problems.join("; ")}` : "";
  $("shadow").tBodies[0].replaceChildren(...Object.entries(r.routes).map(([route, c]) => {
    const tr = document.createElement("tr");
    const last = c.examples[0];
    const example = last
      ? `${last.path} (${last.primary} vs ${last.candidate}): ` +
        last.differences.map((d) => `${d.path} ${d.primary} → ${d.candidate}`).join("; ")
      : "";
    tr.append(cell(route), cell(String(c.compared)), cell(String(c.equal)), cell(String(c.differing)),
      cell(String(c.errors)), cell(c.diff_rate + "%"), cell(example));
    return tr;
  }));
  const box = $("shadow-chart");
  if (r.history.length === 0) { box.textContent = "No comparisons in the last hour."; return; }
  const points = r.history.flatMap((p) => [
    { at_ms: p.at_ms, branch: "diff rate", rate: p.diff_rate },
    { at_ms: p.at_ms, branch: "shadow errors", rate: p.error_rate },
  ]);
  box.replaceChildren(chart("Diff rate and shadow errors", points, "rate", "%"));
}

function renderAudit(entries) {
  const body = $("audit").tBodies[0];
  body.replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    for (const text of [e.at, e.who, e.action, e.old + " → " + e.new, e.reason || ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  }));
}

function replicationText(r) {
  if (!r) return "unavailable";
  if (r.state === "absent") return "no replicator has reported";
  const lag = (v) => (v === null || v === undefined ? "–" : v + " s");
  const text = `${r.state}: lag legacy → app ${lag(r.lag_seconds.legacy_to_app)}, app → legacy ${lag(r.lag_seconds.app_to_legacy)}`;
  return r.problems.length ? text + " — " + r.problems.join("; ") : text;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function renderBeta(tokens) {
  const now = Date.now() / 1000;
  $("beta").tBodies[0].replaceChildren(...tokens.map((t) => {
    const tr = document.createElement("tr");
    tr.append(cell(t.label), cell(t.issued_by), cell(t.issued_at),
      cell(new Date(t.expires_at * 1000).toISOString()), cell(t.last_seen || "never"));
    const state = document.createElement("td");
    if (t.revoked_at) state.textContent = "revoked";
    else if (t.expires_at <= now) state.textContent = "expired";
    else {
      const button = document.createElement("button");
      button.textContent = "Revoke…";
      button.setAttribute("aria-label", "Revoke the access of " + t.label);
      button.addEventListener("click", () => ask(`Revoke the beta access of ${t.label}?`, async () =>
        report(await api("/admin/beta/" + encodeURIComponent(t.id), { method: "DELETE" }), `Revoked ${t.label}.`)));
      state.appendChild(button);
    }
    tr.appendChild(state);
    return tr;
  }));
}

const SVG = "http://www.w3.org/2000/svg";
function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// One small line chart per metric: x = minute, one line per branch.
function chart(title, points, field, unit) {
  const W = 640, H = 140, P = 30;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", class: "chart", role: "img", "aria-label": title });
  const times = points.map((p) => p.at_ms);
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 60000);
  const max = Math.max(1, ...points.map((p) => p[field]));
  const x = (t) => P + (W - 2 * P) * (t - t0) / (t1 - t0);
  const y = (v) => H - P + -(H - 2 * P) * v / max;
  svg.appendChild(svgEl("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: "#999" }));
  const label = svgEl("text", { x: P, y: 14 });
  label.textContent = `${title} (max ${max}${unit})`;
  svg.appendChild(label);
  const branches = [...new Set(points.map((p) => p.branch))];
  for (const b of branches) {
    const color = COLORS[b] || "#333";
    const xy = points.filter((p) => p.branch === b).map((p) => [x(p.at_ms).toFixed(1), y(p[field]).toFixed(1)]);
    svg.appendChild(svgEl("polyline", { points: xy.map((c) => c.join(",")).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
    // Dots too: a minute with traffic between idle ones is a single point.
    for (const [cx, cy] of xy) svg.appendChild(svgEl("circle", { cx, cy, r: 3, fill: color }));
  }
  return svg;
}

function renderCharts(points) {
  const box = $("charts");
  if (points.length === 0) { box.textContent = "No traffic in the last hour."; return; }
  const legend = document.createElement("p");
  legend.className = "legend";
  for (const b of new Set(points.map((p) => p.branch))) {
    const s = document.createElement("span");
    s.className = b;
    s.textContent = "■ " + b;
    legend.appendChild(s);
  }
  box.replaceChildren(legend, chart("Error rate", points, "error_rate", "%"), chart("p95 latency", points, "p95_ms", " ms"));
}

function ask(text, action) {
  pending = action;
  $("confirm-text").textContent = text;
  $("confirm").hidden = false;
}

async function report(result, done) {
  if (result.ok) say(done);
  else say("Refused (" + result.status + "): " + (result.body.error || "") +
    (result.body.failing ? " — " + result.body.failing.join("; ") : ""), true);
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const resp = await fetch("/admin/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
    });
    const body = await resp.json().catch(() => ({}));
    const access = body.access || (body.tokens && body.tokens.access) || body.access_token;
    if (!resp.ok || !access) { $("login-error").textContent = body.error || body.detail || "Sign-in failed."; return; }
    signIn(access);
  });
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn(new FormData(ev.target).get("token"));
  });
  $("logout").addEventListener("click", () => signOut());

  $("percentage-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const pct = form.get("percentage"), reason = form.get("reason") || "";
    ask(`Send ${pct}% of clients to the app?`, async () => {
      const q = new URLSearchParams({ action: "update_percentage", percentage: pct, reason });
      await report(await api("/admin/migration?" + q, { method: "POST" }), `Traffic set to ${pct}%.`);
    });
  });
  for (const button of document.querySelectorAll("[data-maintenance]")) {
    button.addEventListener("click", () => {
      const mode = button.dataset.maintenance;
      const q = mode === "off"
        ? new URLSearchParams({ action: "disable_maintenance" })
        : new URLSearchParams({ action: "enable_maintenance", mode });
      ask(`Set maintenance to ${mode}?`, async () =>
        report(await api("/admin/migration?" + q, { method: "POST" }), `Maintenance: ${mode}.`));
    });
  }
  $("switch-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const body = JSON.stringify({ version: form.get("version"), force: form.get("force") === "on" });
    ask(`Switch app traffic to ${form.get("version")}?`, async () =>
      report(await api("/admin/deployment/switch", { method: "POST", body }), `Now serving ${form.get("version")}.`));
  });
  $("shadow-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const pct = Number(new FormData(ev.target).get("rate"));
    ask(`Mirror ${pct}% of reads on shadowable routes to the other side?`, async () =>
      report(await api("/admin/shadow", { method: "PUT", body: JSON.stringify({ rate: pct / 100 }) }),
        `Mirroring ${pct}% of reads.`));
  });
  $("shadow-reset").addEventListener("click", () => ask("Reset the shadow counts and learned noise?", async () =>
    report(await api("/admin/shadow", { method: "DELETE" }), "Shadow counts reset.")));
  $("beta-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const body = JSON.stringify({ label: form.get("label"), expires_in: form.get("expires_in") });
    const result = await api("/admin/beta", { method: "POST", body });
    if (result.ok) {
      $("beta-link").value = result.body.invite_link;
      $("beta-issued").hidden = false;
    }
    await report(result, `Invite link for ${form.get("label")} issued.`);
  });
  $("beta-copy").addEventListener("click", async () => {
    await navigator.clipboard.writeText($("beta-link").value).catch(() => $("beta-link").select());
    say("Invite link copied.");
  });
  $("confirm-yes").addEventListener("click", async () => {
    $("confirm").hidden = true;
    const action = pending;
    pending = null;
    if (action) await action();
  });
  $("confirm-no").addEventListener("click", () => { $("confirm").hidden = true; pending = null; });

  if (token()) signIn(token());
  setInterval(refresh, 5000);
});
