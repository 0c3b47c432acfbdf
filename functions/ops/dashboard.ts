/**
 * GET /ops: the operations dashboard (charts of the API's latency, QPS and error rate, the
 * database's connections, cache hit ratio and size, and the firing alerts). The page holds no
 * data and needs no login to load: a browser navigation carries no bearer token. The admin pastes
 * one, which stays in the tab's sessionStorage, and the page's script reads /v1/ops/metrics and
 * /v1/ops/alerts with it; those routes (and the database behind them) refuse anyone else.
 *
 * The page is served with a strict Content-Security-Policy: no inline script or style, nothing
 * from another origin. Its script, stylesheet and uPlot (linked from node_modules, so the version
 * is package.json's) are Workers static assets (`[assets]` in wrangler.toml, directory
 * functions/ops/static), fetched through the ASSETS binding by GET /ops/assets/:file so they get
 * the app's security headers; as assets they cost the worker script none of its gzip budget.
 * Where there is no ASSETS binding (the app in Node, Vercel Edge) that route answers 404.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { errorResponse } from "../errors";

/** The files GET /ops/assets/:file serves, by the name the page asks for. */
export const OPS_ASSETS = ["ops.js", "ops.css", "uplot.min.js", "uplot.min.css"] as const;

export const OPS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FisioFlow ops</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ops/assets/uplot.min.css">
<link rel="stylesheet" href="/ops/assets/ops.css">
<script src="/ops/assets/uplot.min.js" defer></script>
<script src="/ops/assets/ops.js" defer></script>
</head>
<body>
<header>
  <h1>FisioFlow ops</h1>
  <div class="controls" id="controls" hidden>
    <label>Range
      <select id="range">
        <option value="60">1 hour</option>
        <option value="360">6 hours</option>
        <option value="1440">24 hours</option>
        <option value="10080">7 days</option>
      </select>
    </label>
    <button type="button" id="refresh">Refresh</button>
    <button type="button" id="signout">Sign out</button>
  </div>
</header>
<main>
  <p id="status" class="status" role="status" aria-live="polite">Loading…</p>
  <section id="login" class="card login" hidden>
    <h2>Sign in</h2>
    <form id="login-form">
      <label for="token">Admin bearer token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <button type="submit">Sign in</button>
    </form>
    <p class="hint">The token stays in this tab only (sessionStorage). In development:
      <code>npm run token -- --role admin</code>.</p>
  </section>
  <section id="dashboard" hidden>
    <div id="tiles" class="tiles"></div>
    <div id="charts" class="charts"></div>
    <section class="card alerts">
      <h2>Firing alerts</h2>
      <div id="alerts">…</div>
    </section>
  </section>
  <noscript>This page needs JavaScript.</noscript>
</main>
</body>
</html>`;

/** The ASSETS binding of Workers static assets (absent in Node and on Vercel). */
interface AssetsBinding {
  fetch(request: Request): Promise<Response>;
}

function assetsOf(env: unknown): AssetsBinding | undefined {
  const assets = (env as { ASSETS?: unknown } | undefined)?.ASSETS;
  return assets && typeof (assets as AssetsBinding).fetch === "function"
    ? (assets as AssetsBinding)
    : undefined;
}

export function registerOpsDashboard(app: OpenAPIHono<AppEnv>) {
  app.get("/ops", (c) => {
    c.header("Content-Security-Policy", OPS_CSP);
    c.header("Cache-Control", "no-store");
    return c.html(PAGE);
  });

  app.get("/ops/assets/:file", async (c) => {
    const file = c.req.param("file");
    if (!(OPS_ASSETS as readonly string[]).includes(file)) {
      return errorResponse(c, "not_found", "No such dashboard file");
    }
    const assets = assetsOf(c.env);
    if (!assets) {
      return errorResponse(c, "not_found", "The dashboard's files are served by Workers static assets only");
    }
    const conditional = c.req.header("if-none-match");
    const res = await assets.fetch(
      new Request(new URL(`/${file}`, c.req.url), {
        headers: conditional ? { "if-none-match": conditional } : {},
      }),
    );
    if (res.status !== 200 && res.status !== 304) {
      c.get("services").logger.error("ops_asset_missing", { file, status: res.status });
      return errorResponse(c, "not_found", "No such dashboard file");
    }
    const headers = new Headers({ "Cache-Control": "no-cache" });
    for (const h of ["content-type", "etag"]) {
      const v = res.headers.get(h);
      if (v) headers.set(h, v);
    }
    // Revalidated on every load (a 304 is cheap): a deploy is seen at once, never a stale mix.
    return new Response(res.status === 304 ? null : res.body, { status: res.status, headers });
  });
}
