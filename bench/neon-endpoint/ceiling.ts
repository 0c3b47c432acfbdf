/**
 * The "ceiling" responder of the benchmark, run in its own process: a node:http server that answers
 * every POST with a canned, correctly shaped Neon /sql result for the benchmarked query, without
 * touching Postgres. CANNED holds one real response of the local endpoint for that query (captured
 * by run.ts); each reply is that response with the requested id (params[0]) in place of the
 * captured one. Whatever req/s neon() reaches against this is the most any endpoint could give the
 * driver with this client on this machine. Prints "READY <port>".
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const canned = process.env.CANNED!;
const cannedId = process.env.CANNED_ID!;
const at = canned.indexOf(JSON.stringify(cannedId));
if (at < 0) throw new Error("CANNED does not contain CANNED_ID");
const prefix = Buffer.from(canned.slice(0, at), "utf8");
const suffix = Buffer.from(canned.slice(at + JSON.stringify(cannedId).length), "utf8");

const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { params?: string[] };
    const id = Buffer.from(JSON.stringify(body.params?.[0] ?? cannedId), "utf8");
    const out = Buffer.concat([prefix, id, suffix]);
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": out.length });
    res.end(out);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => console.log(`READY ${(server.address() as AddressInfo).port}`));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
