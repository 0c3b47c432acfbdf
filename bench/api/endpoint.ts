/**
 * The local Neon endpoint for the API benchmark, in its own process (postgres backend, database
 * fisioflow_bench, which it creates with its roles if missing), plus a second listener that
 * answers GET with the endpoint's counters ({ sqlRequests }): the bench reads Neon HTTP round
 * trips per request from it. Prints one JSON line: url, sqlUrl, wsProxy, statsUrl.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { startNeonEndpoint } from "../../dev/neon";
import { ADMIN_URL, DATABASE } from "./common";

const endpoint = await startNeonEndpoint({
  port: 0,
  hostname: "127.0.0.1",
  postgresUrl: process.env.LOCAL_POSTGRES_URL || ADMIN_URL,
  database: DATABASE,
  poolSize: 20,
  log: (line) => console.error(`[endpoint] ${line}`),
});
const stats = http.createServer((_req, res) => {
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify(endpoint.stats));
});
await new Promise<void>((resolve) => stats.listen(0, "127.0.0.1", resolve));
console.log(
  JSON.stringify({
    url: endpoint.url,
    sqlUrl: endpoint.sqlUrl,
    wsProxy: endpoint.wsProxy,
    statsUrl: `http://127.0.0.1:${(stats.address() as AddressInfo).port}/`,
    appUrl: endpoint.connectionString("fisioflow_app"),
    ownerUrl: endpoint.connectionString("fisioflow_owner"),
  }),
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  stats.close();
  endpoint.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
  setTimeout(() => process.exit(1), 5000).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
