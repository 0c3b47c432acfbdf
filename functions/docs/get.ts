/**
 * GET /docs: a reference page rendered in the browser from /openapi.json. Self-contained (no CDN,
 * so it works offline beside `npm run dev`): every operation by tag with its parameters, request
 * body, responses and the schemas they name.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FisioFlow Edge API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
header{background:#0b5d68;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
main{max-width:1000px;margin:0 auto;padding:16px 24px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px}
details{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:8px 0;padding:6px 12px}
summary{cursor:pointer}code,pre{font:13px ui-monospace,monospace}pre{background:#f3f5f7;padding:8px;overflow:auto}
.m{display:inline-block;min-width:58px;font-weight:600;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.patch{color:#9a6700}.delete{color:#cf222e}
</style></head><body><header><h1>FisioFlow Edge API</h1><div>Generated from <a style="color:#cde" href="/openapi.json">/openapi.json</a>. Send <code>Authorization: Bearer &lt;JWT&gt;</code> to /v1.</div></header>
<main id="doc">Loading…</main>
<script>
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const json = (v) => "<pre>" + esc(JSON.stringify(v, null, 2)) + "</pre>";
fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths || {}))
    for (const [method, op] of Object.entries(ops))
      (byTag[(op.tags || ["other"])[0]] ||= []).push({ path, method, op });
  let html = "";
  for (const [tag, list] of Object.entries(byTag)) {
    html += "<h2>" + esc(tag) + "</h2>";
    for (const { path, method, op } of list) {
      html += "<details><summary><span class='m " + method + "'>" + method + "</span> <code>" + esc(path) + "</code> " + esc(op.summary) + "</summary>";
      if (op.description) html += "<p>" + esc(op.description) + "</p>";
      if (op.parameters?.length) html += "<h4>Parameters</h4>" + json(op.parameters.map((p) => ({ name: p.name, in: p.in, required: !!p.required, schema: p.schema })));
      const body = op.requestBody?.content?.["application/json"]?.schema;
      if (body) html += "<h4>Body</h4>" + json(body);
      html += "<h4>Responses</h4><ul>" + Object.entries(op.responses || {}).map(([s, r]) => "<li><b>" + s + "</b> " + esc(r.description) + "</li>").join("") + "</ul></details>";
    }
  }
  html += "<h2>Schemas</h2>" + Object.entries(doc.components?.schemas || {}).map(([n, s]) => "<details><summary><code>" + esc(n) + "</code></summary>" + json(s) + "</details>").join("");
  document.getElementById("doc").innerHTML = html;
}).catch((e) => { document.getElementById("doc").textContent = "Could not load /openapi.json: " + e; });
</script></body></html>`;

export function registerDocs(app: OpenAPIHono<AppEnv>) {
  app.get("/docs", (c) => c.html(PAGE));
}
