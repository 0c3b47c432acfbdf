/**
 * `ours-workerd` and `workerd-ceiling`: a worker entry (WORKER_ENTRY: bench/api/worker-ours.ts, the
 * real app, or bench/api/worker-ok.ts, a 200 "ok") run by wrangler's local runtime (workerd)
 * through `unstable_startWorker` from wrangler — the API under `unstable_dev` (which
 * test/harness/cloud.ts uses), here because it alone lets the inspector be switched off
 * (`dev.inspector: false`; `unstable_dev` always opens one, on port 0 by default). wrangler.toml's
 * compatibility date and flags, no file watching, no dev registry, no persistence, log level
 * "error". The vars are ours-node's bindings (bindings.ts: IN_PROCESS_ENV, ENVIRONMENT=development,
 * the APP_* variables).
 *
 * Prints "READY <port> <statsPort>": both the worker's port (its counters on STATS_PATH).
 */
import { unstable_startWorker } from "wrangler";
import { appBindings } from "./bindings";

const entry = process.env.WORKER_ENTRY;
if (!entry) throw new Error("WORKER_ENTRY is required");

const vars = appBindings();
const worker = await unstable_startWorker({
  config: "wrangler.toml",
  entrypoint: entry,
  bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text", value: v }])),
  dev: {
    server: { hostname: "127.0.0.1", port: 0 },
    inspector: false,
    watch: false,
    persist: false,
    logLevel: "error",
    registry: undefined,
  },
});
await worker.ready;
const url = await worker.url;
console.log(`READY ${url.port} ${url.port}`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 4000).unref();
    worker.dispose().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  });
}
