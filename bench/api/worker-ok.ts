/**
 * `workerd-ceiling`: a worker that answers every request 200 "ok" and does nothing else, run
 * exactly as ours-workerd is (same wrangler.toml, same runtime, same counters): the most wrangler's
 * local runtime serves on this machine, so ours-workerd can be read as a share of it.
 */
import { STATS_PATH } from "./worker-stats";

const stats = { requests: 0, inFlight: 0 };

export default {
  fetch(req: Request): Response {
    if (new URL(req.url).pathname === STATS_PATH) return Response.json(stats);
    stats.requests++;
    return new Response("ok");
  },
};
