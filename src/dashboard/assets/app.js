// The dashboard page: one EventSource ("snapshot" once per connection, then "delta" events
// the server coalesces), a Map of rows by identifier, and a virtually scrolled list that
// builds DOM only for the rows in view. Data from etcd is only ever set as text, never HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // identifier -> row as the server sent it
  let shown = []; // the filtered, sorted rows
  let filter = "all";
  let query = "";
  let sortBy = "problems";
  let clockOffset = 0; // server wall time - Date.now()
  let listDirty = true;
  let frame = 0;
  let source = null;
  const pool = []; // row elements, reused

  const viewport = $("viewport");
  const spacer = $("spacer");

  // ---- time formatting ----
  const serverNow = () => Date.now() + clockOffset;
  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d";
  }
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

  // ---- state ----
  const category = (r) =>
    r.state === "healthy" || r.state === "unhealthy" || r.state === "expired" ? r.state : "pending";
  const rank = { unhealthy: 0, expired: 1, pending: 2, healthy: 3 };
  const matches = (r) =>
    (filter === "all" || category(r) === filter) &&
    (query === "" ||
      r.id.toLowerCase().includes(query) ||
      (r.writer || "").toLowerCase().includes(query) ||
      (r.lease || "").includes(query));
  function compare(a, b) {
    if (sortBy === "problems") {
      const d = rank[category(a)] - rank[category(b)];
      if (d !== 0) return d;
    } else if (sortBy === "age") {
      const d = (a.ts || 0) - (b.ts || 0);
      if (d !== 0) return d;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  function receive(message, replace) {
    clockOffset = message.now - Date.now();
    if (replace) rows.clear();
    for (const r of message.rows) rows.set(r.id, r);
    const s = message.summary;
    for (const k of ["total", "healthy", "unhealthy", "pending", "expired"]) {
      $("n-" + k).textContent = String(s[k]);
    }
    $("prefix").textContent = message.prefix;
    $("revision").textContent = String(message.revision);
    listDirty = true;
    schedule();
  }

  // ---- rendering ----
  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }
  const rowHeight = () =>
    parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--row-h")) || 44;

  function render() {
    frame = 0;
    if (listDirty) {
      shown = [];
      for (const r of rows.values()) if (matches(r)) shown.push(r);
      shown.sort(compare);
      listDirty = false;
      $("table").setAttribute("aria-rowcount", String(shown.length + 1));
      $("shown").textContent =
        shown.length === rows.size ? rows.size + " capabilities" : shown.length + " of " + rows.size + " shown";
      $("empty").hidden = shown.length > 0 || rows.size === 0;
    }
    const h = rowHeight();
    spacer.style.height = shown.length * h + "px";
    const first = Math.max(0, Math.floor(viewport.scrollTop / h) - 5);
    const last = Math.min(shown.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / h) + 5);
    const now = serverNow();
    let used = 0;
    for (let i = first; i < last; i++, used++) {
      if (used === pool.length) pool.push(makeRow());
      const el = pool[used];
      if (!el.isConnected) viewport.appendChild(el);
      fill(el, shown[i], i, h, now);
    }
    while (pool.length > used) pool.pop().remove();
  }

  function makeRow() {
    const el = document.createElement("div");
    el.className = "row";
    el.setAttribute("role", "row");
    for (const name of ["id", "state", "check", "age", "ttl", "lease", "count", "strip"]) {
      const cell = document.createElement("span");
      cell.className = "cell " + name;
      cell.setAttribute("role", "cell");
      el.appendChild(cell);
    }
    const badge = document.createElement("span");
    badge.className = "badge";
    el.children[1].appendChild(badge);
    return el;
  }

  function fill(el, r, index, h, now) {
    const [id, state, check, age, ttl, lease, count, strip] = el.children;
    el.style.top = index * h + "px";
    el.dataset.id = r.id;
    el.dataset.state = r.state;
    el.setAttribute("aria-rowindex", String(index + 2));
    id.textContent = r.id;
    id.title = r.writer ? r.id + " (written by " + r.writer + ")" : r.id;
    const badge = state.firstChild;
    badge.dataset.state = category(r);
    badge.textContent = r.state + (r.flapping ? " ⟳" : "");
    badge.title = r.flapping ? "flapping" : r.reason || r.state;
    check.textContent = r.check || "–";
    check.title = r.reason || "";
    age.textContent = r.ts != null ? ago(now - r.ts) + " ago" : "–";
    if (r.state === "expired") {
      ttl.textContent = "gone " + ago(now - r.gone_at) + " ago";
      ttl.title = (r.gone_reason || "deleted") + " at " + clock(r.gone_at);
      ttl.classList.remove("low");
    } else if (r.ttl > 0 && r.ts != null && r.mode !== "on-change") {
      const left = r.ttl - (now - r.ts) / 1000;
      ttl.textContent = left > 0 ? Math.ceil(left) + "s of " + r.ttl + "s" : "overdue";
      ttl.title = "lease TTL " + r.ttl + "s, heartbeat every " + r.interval + "s";
      ttl.classList.toggle("low", left < Math.min(r.ttl / 3, 5));
    } else {
      ttl.textContent = r.ttl > 0 ? r.ttl + "s (kept alive)" : "–";
      ttl.title = "renewed by keep-alive; the value is rewritten on change";
      ttl.classList.remove("low");
    }
    lease.textContent = r.lease || "–";
    count.textContent = String(r.count);
    strip.replaceChildren();
    const described = [];
    for (const [s, at] of r.transitions) {
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.dataset.state = s === "healthy" || s === "unhealthy" || s === "expired" ? s : "pending";
      const when = at != null ? clock(at) : "?";
      tick.title = s + " since " + when;
      strip.appendChild(tick);
      described.push(s + " " + when);
    }
    strip.setAttribute("aria-label", "Recent transitions: " + (described.join(", ") || "none"));
    el.setAttribute("aria-label", r.id + ", " + r.state);
  }

  // ---- live updates ----
  function setConnection(state, text) {
    const conn = $("conn");
    conn.dataset.state = state;
    conn.textContent = text;
  }
  function connect() {
    source = new EventSource("events");
    source.addEventListener("open", () => setConnection("live", "live"));
    source.addEventListener("snapshot", (e) => receive(JSON.parse(e.data), true));
    source.addEventListener("delta", (e) => receive(JSON.parse(e.data), false));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 503: too many streams): the browser gives up, so try again later.
        setConnection("down", "live updates unavailable; retrying in 5s");
        source.close();
        setTimeout(connect, 5000);
      } else {
        setConnection("down", "reconnecting…");
      }
    });
  }

  // ---- controls ----
  for (const chip of document.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      filter = chip.dataset.filter;
      for (const c of document.querySelectorAll(".chip")) {
        c.setAttribute("aria-pressed", String(c === chip));
      }
      listDirty = true;
      viewport.scrollTop = 0;
      schedule();
    });
  }
  $("search").addEventListener("input", (e) => {
    query = e.target.value.trim().toLowerCase();
    listDirty = true;
    viewport.scrollTop = 0;
    schedule();
  });
  $("sort").addEventListener("change", (e) => {
    sortBy = e.target.value;
    listDirty = true;
    schedule();
  });
  viewport.addEventListener("scroll", schedule, { passive: true });
  window.addEventListener("resize", schedule);
  setInterval(schedule, 1000); // ages and countdowns

  connect();
})();
