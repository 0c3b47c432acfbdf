import { Pool } from "@neondatabase/serverless";
import { z } from "zod";
import { ensurePartitions, PARTITION_MONTHS_AHEAD } from "../../db/partitions";
import { defineJob, PermanentJobError } from "../types";

/**
 * Daily partition upkeep: a thin scheduled wrapper around db/partitions (which `db:migrate` also
 * runs). Creating partitions and moving rows out of DEFAULT needs the owner role and an
 * interactive transaction: a WebSocket Pool created and ended inside this request (Workers
 * forbids sharing it across requests).
 */
export const partitions = defineJob({
  name: "partitions",
  description: "Creates the next monthly consultas partitions and empties DEFAULT into them",
  payload: z
    .object({ months_ahead: z.number().int().min(1).max(24).default(PARTITION_MONTHS_AHEAD) })
    .strict(),
  schedule: { cron: "17 3 * * *", retries: 5, payload: { months_ahead: PARTITION_MONTHS_AHEAD } },
  async run(ctx, payload) {
    const url = ctx.ownerUrl;
    if (!url) throw new PermanentJobError("DATABASE_OWNER_URL is not set for this worker");
    const pool = new Pool({ connectionString: url, max: 1 });
    // An idle client whose WebSocket drops (e.g. as the request winds down) makes the Pool emit
    // "error"; unheard, that is an uncaught exception in the isolate. A lost idle connection
    // costs nothing here: the work is committed or the error already surfaced from the query.
    pool.on("error", (err: Error) => ctx.logger.warn("partitions_pool_error", { error: err.name }));
    try {
      const client = await pool.connect();
      try {
        const report = await ensurePartitions(client, {
          monthsAhead: payload.months_ahead,
          now: ctx.clock.now(),
        });
        if (report.failed.length > 0) {
          // The months that worked are committed; a rerun skips them and retries the rest.
          const summary = report.failed.map((f) => `${f.name}: ${f.code ?? "error"} ${f.error}`).join("; ");
          const created = report.created.length ? ` (created ${report.created.join(", ")})` : "";
          const transient = report.failed.find((f) => f.transient);
          if (transient) {
            // Lock timeout, deadlock, lost connection: thrown, so QStash redelivers later.
            throw Object.assign(new Error(`partition upkeep incomplete, will retry${created}: ${summary}`), {
              name: "PartitionUpkeepRetry",
              code: transient.code,
            });
          }
          throw new PermanentJobError(`partition upkeep failed${created}: ${summary}`);
        }
        return {
          status: report.created.length > 0 || report.moved > 0 ? "done" : "skipped",
          created: report.created,
          moved: report.moved,
          coverage_until: report.coverageUntil,
        };
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  },
});
