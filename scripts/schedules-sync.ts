import { syncSchedules } from "../jobs/schedules/sync";
import { run } from "./lib/cli";
import { loadDevVars } from "./lib/vars";

/** `npm run schedules:sync`: QSTASH_URL, QSTASH_TOKEN and PUBLIC_URL from env or .dev.vars. */
run("schedules:sync", async () => {
  const vars = { ...loadDevVars(), ...process.env } as Record<string, string | undefined>;
  const missing = ["QSTASH_URL", "QSTASH_TOKEN", "PUBLIC_URL"].filter((k) => !vars[k]);
  if (missing.length) {
    console.error(`schedules:sync needs ${missing.join(", ")} (env or .dev.vars)`);
    process.exit(2);
  }
  const report = await syncSchedules({
    qstashUrl: vars.QSTASH_URL!,
    qstashToken: vars.QSTASH_TOKEN!,
    publicUrl: vars.PUBLIC_URL!,
    log: (l) => console.log(l),
  });
  console.log(
    `schedules:sync: ${report.upserted.length} upserted, ${report.unchanged.length} unchanged, ${report.removed.length} removed`,
  );
});
