// The /ops dashboard's script (served by the worker as a static asset; functions/ops/dashboard.ts).
// Plain browser JavaScript, no build step: uPlot is the global its IIFE build defines. The page
// holds no data: with the admin's bearer token (pasted once, kept in sessionStorage) it reads
// /v1/ops/metrics for the charts and the tiles and /v1/ops/alerts?state=firing for the alerts.
(() => {
  const TOKEN_KEY = "fisioflow.ops.token";
  const REFRESH_MS = 60_000;
  const COLORS = ["#0b5d68", "#d9480f", "#6741d9", "#2b8a3e", "#c2255c", "#1971c2", "#e67700", "#495057"];

  const MiB = 1024 * 1024;
  /** One chart per entry: which metrics it draws and how a value is shown. */
  const CHARTS = [
    {
      id: "latency",
      title: "API latency",
      unit: "ms",
      metrics: ["api_latency_p50_ms", "api_latency_p95_ms", "api_latency_p99_ms"],
      name: (s) => s.metric.replace(/^api_latency_/, "").replace(/_ms$/, ""),
    },
    { id: "qps", title: "Requests per second", unit: "req/s", metrics: ["api_requests_per_second"] },
    { id: "errors", title: "Error rate", unit: "%", metrics: ["api_error_rate"], scale: 100 },
    {
      id: "connections",
      title: "Database connections",
      unit: "",
      metrics: ["db_connections"],
      digits: 0,
    },
    { id: "cache", title: "Cache hit ratio", unit: "%", metrics: ["db_cache_hit_ratio"], scale: 100 },
    { id: "size", title: "Database size", unit: "MiB", metrics: ["db_size_bytes"], scale: 1 / MiB },
  ];
  /** The tiles above the charts: the latest sample of one metric (summed over its label sets). */
  const TILES = [
    { metric: "api_latency_p95_ms", title: "p95 latency", unit: "ms" },
    { metric: "api_requests_per_second", title: "Requests/s", unit: "" },
    { metric: "api_error_rate", title: "Error rate", unit: "%", scale: 100 },
    { metric: "db_connections_ratio", title: "Connections of max", unit: "%", scale: 100 },
    { metric: "db_cache_hit_ratio", title: "Cache hit ratio", unit: "%", scale: 100 },
    { metric: "db_size_bytes", title: "Database size", unit: "MiB", scale: 1 / MiB },
  ];

  const $ = (id) => document.getElementById(id);
  const plots = new Map();
  /** The range shown (epoch ms): every chart's x axis spans it, whatever part of it has samples. */
  const view = { from: 0, to: 0 };
  let timer;
  /** Bumped by every load: an answer to an older one (a range changed meanwhile) is dropped. */
  let loads = 0;

  /** A failed API call, with what the error model said. */
  class ApiFailure extends Error {
    constructor(status, body) {
      const e = body?.error;
      super(e?.message ?? `HTTP ${status}`);
      this.status = status;
      this.code = e?.code;
      this.requestId = e?.request_id;
    }
  }

  async function api(path) {
    const res = await fetch(path, {
      headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}` },
      cache: "no-store",
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiFailure(res.status, body);
    return body;
  }

  function fmt(v, digits) {
    if (v == null || !Number.isFinite(v)) return "–";
    const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
    return v.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  /** Decimals the axis' ticks need to tell them apart: 0, 50, 100 (not 0.00); 0.25, 0.5, 0.75. */
  function tickDigits(ticks) {
    const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
    for (let d = 0; d < 4; d++) {
      const scaled = step * 10 ** d;
      if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * scaled) return d;
    }
    return 4;
  }

  function setStatus(text, kind) {
    const el = $("status");
    el.textContent = text;
    el.className = `status${kind ? ` ${kind}` : ""}`;
    el.hidden = !text;
  }

  function showLogin(message) {
    for (const p of plots.values()) p.plot.destroy();
    plots.clear();
    clearInterval(timer);
    $("dashboard").hidden = true;
    $("controls").hidden = true;
    $("login").hidden = false;
    setStatus(message ?? "", message ? "error" : "");
    $("token").focus();
  }

  /** Series of one chart: per metric the unlabelled total when there is one, else every label set. */
  function pick(chart, series) {
    const out = [];
    for (const metric of chart.metrics) {
      const mine = series.filter((s) => s.metric === metric);
      const total = mine.find((s) => Object.keys(s.labels).length === 0);
      out.push(...(total ? [total] : mine.slice(0, COLORS.length)));
    }
    return out;
  }

  function seriesName(chart, s) {
    const labels = Object.values(s.labels).join(" ");
    if (chart.name) return chart.name(s) + (labels ? ` ${labels}` : "");
    return labels || chart.title;
  }

  /** uPlot's columns: shared x (seconds), one y array per series, null where a series has no sample. */
  function align(chosen, scale) {
    const xs = [...new Set(chosen.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const ys = chosen.map((s) => {
      const col = new Array(xs.length).fill(null);
      for (const [t, v] of s.points) col[at.get(t)] = v * scale;
      return col;
    });
    return [xs.map((x) => x / 1000), ...ys];
  }

  function lastValue(col) {
    for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return col[i];
    return null;
  }

  function figureFor(chart) {
    let fig = $(`chart-${chart.id}`);
    if (!fig) {
      fig = document.createElement("figure");
      fig.id = `chart-${chart.id}`;
      fig.className = "card chart";
      const cap = document.createElement("figcaption");
      cap.textContent = chart.unit ? `${chart.title} (${chart.unit})` : chart.title;
      const body = document.createElement("div");
      body.className = "plot";
      fig.append(cap, body);
      $("charts").append(fig);
    }
    return fig;
  }

  function plotSize(body) {
    const width = Math.max(200, Math.floor(body.clientWidth));
    return { width, height: window.innerWidth < 600 ? 180 : 220 };
  }

  function draw(chart, series) {
    const fig = figureFor(chart);
    const body = fig.querySelector(".plot");
    const chosen = pick(chart, series);
    const data = chosen.length ? align(chosen, chart.scale ?? 1) : null;
    const names = chosen.map((s) => seriesName(chart, s));
    const current = plots.get(chart.id);
    // The same series as before (a refresh): new data in the same plot, no flicker.
    if (data && current && current.names.join("\u0000") === names.join("\u0000")) {
      current.plot.setData(data);
      return;
    }
    current?.plot.destroy();
    plots.delete(chart.id);
    body.replaceChildren();
    if (!data) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No samples in this range.";
      body.append(p);
      return;
    }
    const opts = {
      ...plotSize(body),
      scales: { x: { time: true, range: () => [view.from / 1000, view.to / 1000] } },
      series: [
        // Off the plot the legend shows each series' latest value instead of "--".
        { value: (_u, v, _s, idx) => (idx == null ? "latest" : new Date(v * 1000).toLocaleString()) },
        ...chosen.map((_s, i) => ({
          label: names[i],
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          value: (u, v, sidx, idx) => fmt(idx == null ? lastValue(u.data[sidx]) : v, chart.digits),
        })),
      ],
      axes: [
        {},
        { size: 56, values: (_u, ticks) => ticks.map((t) => fmt(t, chart.digits ?? tickDigits(ticks))) },
      ],
    };
    plots.set(chart.id, { names, plot: new uPlot(opts, data, body) });
  }

  function renderTiles(samples) {
    const tiles = TILES.map((t) => {
      const mine = samples.filter((s) => s.metric === t.metric);
      const value = mine.length ? mine.reduce((sum, s) => sum + s.value, 0) * (t.scale ?? 1) : null;
      const el = document.createElement("div");
      el.className = "card tile";
      el.dataset.metric = t.metric;
      const title = document.createElement("div");
      title.className = "tile-title";
      title.textContent = t.title;
      const v = document.createElement("div");
      v.className = "tile-value";
      v.textContent = `${fmt(value)}${value == null || !t.unit ? "" : ` ${t.unit}`}`;
      el.append(title, v);
      return el;
    });
    $("tiles").replaceChildren(...tiles);
  }

  function renderAlerts(result) {
    const box = $("alerts");
    if (!result.ok) {
      box.replaceChildren(Object.assign(document.createElement("p"), { textContent: "Alerts unavailable." }));
      box.className = "muted";
      return;
    }
    box.className = "";
    const list = result.body?.data ?? [];
    if (!list.length) {
      box.replaceChildren(Object.assign(document.createElement("p"), { textContent: "No alert is firing." }));
      return;
    }
    const ul = document.createElement("ul");
    ul.className = "alert-list";
    for (const a of list) {
      const li = document.createElement("li");
      const sev = document.createElement("span");
      sev.className = `sev sev-${String(a.severity).replace(/[^a-z]/g, "")}`;
      sev.textContent = a.severity;
      const name = document.createElement("strong");
      name.textContent = a.name;
      const detail = document.createElement("span");
      detail.className = "muted";
      const labels = Object.entries(a.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      const since = a.since ? new Date(a.since).toLocaleString() : "?";
      const rule = a.operator && a.threshold != null ? ` (${a.operator} ${fmt(a.threshold)})` : "";
      detail.textContent = `${a.metric} = ${fmt(a.value)}${rule}${labels ? ` {${labels}}` : ""} · since ${since}`;
      li.append(sev, " ", name, " ", detail);
      ul.append(li);
    }
    box.replaceChildren(ul);
  }

  function refusal(err) {
    if (err.status === 401) return "The token was refused (missing, malformed or expired). Sign in again.";
    if (err.status === 403) return "This token may not read the metrics: the dashboard is for admins.";
    return null;
  }

  async function load() {
    const minutes = Number($("range").value);
    const to = new Date();
    const from = new Date(to.getTime() - minutes * 60_000);
    const seq = ++loads;
    setStatus("Loading…");
    try {
      // First the cheap call: a refused token stops here, before any chart is asked for.
      const latest = await api("/v1/ops/metrics/latest?window_minutes=15");
      if (seq !== loads) return;
      $("login").hidden = true;
      $("controls").hidden = false;
      $("dashboard").hidden = false;
      renderTiles(latest.data);
      const range = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
      const [charts, alerts] = await Promise.all([
        Promise.allSettled(
          CHARTS.map((c) => api(`/v1/ops/metrics?${c.metrics.map((m) => `metric=${m}`).join("&")}&${range}`)),
        ),
        api("/v1/ops/alerts?state=firing").then(
          (body) => ({ ok: true, body }),
          () => ({ ok: false }),
        ),
      ]);
      if (seq !== loads) return;
      view.from = from.getTime();
      view.to = to.getTime();
      const failed = [];
      charts.forEach((r, i) => {
        if (r.status === "fulfilled") draw(CHARTS[i], r.value.series);
        else failed.push(`${CHARTS[i].title}: ${r.reason.message}`);
      });
      renderAlerts(alerts);
      const truncated = charts.some((r) => r.status === "fulfilled" && r.value.truncated);
      if (failed.length) setStatus(`Some charts could not be loaded. ${failed.join("; ")}`, "error");
      else if (truncated) setStatus("Some series were cut short: choose a shorter range.", "warn");
      else setStatus(`Updated ${to.toLocaleTimeString()}`, "ok");
    } catch (err) {
      if (seq !== loads) return;
      const why = refusal(err);
      if (why) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(why);
        return;
      }
      const ref = err.requestId ? ` (request ${err.requestId})` : "";
      setStatus(`Could not load the metrics: ${err.message}${ref}`, "error");
    }
  }

  function start() {
    clearInterval(timer);
    timer = setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, REFRESH_MS);
    return load();
  }

  function init() {
    if (typeof uPlot !== "function") {
      setStatus("The chart library did not load.", "error");
      return;
    }
    $("login-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const token = $("token")
        .value.trim()
        .replace(/^Bearer\s+/i, "");
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token").value = "";
      void start();
    });
    $("signout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin();
    });
    $("refresh").addEventListener("click", () => void load());
    for (const chart of CHARTS) figureFor(chart);
    $("range").addEventListener("change", () => void load());
    // Charts follow their card's width (a phone turned, a window resized).
    new ResizeObserver(() => {
      for (const [id, p] of plots) {
        const body = $(`chart-${id}`)?.querySelector(".plot");
        if (body) p.plot.setSize(plotSize(body));
      }
    }).observe($("charts"));
    if (sessionStorage.getItem(TOKEN_KEY)) void start();
    else showLogin();
  }

  init();
})();
