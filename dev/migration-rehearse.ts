/**
 * `npm run migrate:rehearse [-- --pacientes 5000 --seed 42 --keep]`: the whole migration on
 * generated data, with writes still arriving: a private PostgreSQL cluster (wal_level=logical) as
 * the legacy source, the local Neon endpoint over the same cluster as the target, and a writer
 * inserting, updating and deleting on the source the whole time until the cut-over stops it.
 *
 *   CDC slot first → bulk load → sync until caught up → CDC for a while → cut-over (source
 *   read-only, drain, verify every table) → the quarantine listed → the last line: tables
 *   verified and rows lost.
 *
 * Needs the PostgreSQL server binaries (initdb, pg_ctl: PG_BIN or /usr/lib/postgresql/<v>/bin).
 */
import pg from "pg";
import { generateLegacy, installLegacySchema } from "../db/legacy/generate";
import { migrate } from "../db/migrate";
import { bulkLoad } from "../db/migration/bulk";
import { cdcBatch, ensureCdc } from "../db/migration/cdc";
import { cutover } from "../db/migration/cutover";
import { syncToHorizon } from "../db/migration/sync";
import { MIGRATED_TABLES } from "../db/migration/tables";
import { openClient } from "../db/owner-client";
import { startPrivateCluster } from "../dev/cluster";
import { LOCAL } from "../dev/config";
import { startNeonEndpoint } from "../dev/neon";
import { configureNeonForLocal } from "../dev/neon/client";
import { arg, run } from "../scripts/lib/cli";

const say = (line: string) => console.log(`[rehearse] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

run("migrate:rehearse", async () => {
  const pacientes = Number(arg("pacientes") ?? 5000);
  const seed = Number(arg("seed") ?? 42);
  if (!Number.isInteger(pacientes) || pacientes < 10) throw new Error("--pacientes must be an integer >= 10");
  if (!Number.isSafeInteger(seed)) throw new Error("--seed must be an integer");
  const t0 = performance.now();
  const cluster = await startPrivateCluster({
    settings: { wal_level: "logical", max_replication_slots: 4, max_wal_senders: 4, fsync: "off" },
  });
  say(`private PostgreSQL cluster on port ${cluster.port} (wal_level=logical)`);
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query("CREATE DATABASE legado");
  await admin.end();
  const legacyUrl = cluster.url.replace(/\/postgres$/, "/legado");
  const source = new pg.Client({ connectionString: legacyUrl, application_name: "rehearse-migration" });
  await source.connect();
  let endpoint: Awaited<ReturnType<typeof startNeonEndpoint>> | undefined;
  const writer = { stop: false, done: Promise.resolve(), ok: 0, refused: 0 };
  try {
    await installLegacySchema(source);
    const report = await generateLegacy(source, { pacientes, seed });
    say(
      `legacy: ${Object.values(report.rows).reduce((a, b) => a + b, 0)} rows generated (seed ${seed}); injected ${report.anomalies.cpfDuplicado.length} duplicate CPFs, ${report.anomalies.dataInvalida.length} bad dates, ${report.anomalies.consultaSobreposta.length} double bookings`,
    );
    const cdc = await ensureCdc(source);
    say(
      `CDC: publication ${cdc.createdPublication ? "created" : "present"}, slot ${cdc.createdSlot ? "created" : "present"} (before any copy)`,
    );

    writer.done = writeWhileMigrating(legacyUrl, writer);
    say("writer started: inserts, updates and deletes on the source until the cut-over");

    endpoint = await startNeonEndpoint({
      port: 0,
      postgresUrl: cluster.url,
      database: "fisioflow",
      log: () => {},
    });
    configureNeonForLocal(endpoint);
    const ownerUrl = endpoint.connectionString("fisioflow_owner");
    await migrate(ownerUrl, { neon: true, identityKey: LOCAL.identityKey });
    say("target: local Neon endpoint over the same cluster, migrated");

    // The generated rows are seconds old at most: let them pass the horizon's one-second margin
    // (rows newer than that, the writer's, are the sync's and CDC's).
    await sleep(1100);
    const bulk = await bulkLoad({
      async openSource() {
        const c = new pg.Client({ connectionString: legacyUrl });
        await c.connect();
        return { client: c, close: () => c.end() };
      },
      openTarget: () => openClient(ownerUrl, true),
    });
    for (const r of bulk)
      say(
        `bulk ${r.table}: ${r.staged} staged, ${r.applied} applied, ${r.quarantined} quarantined, ${r.leftToSync} left to the sync (${r.seconds.toFixed(1)} s)`,
      );

    const target = await openClient(ownerUrl, true);
    try {
      // Round after round over every table, parents first, until one round finds them all caught
      // up: the writer keeps adding pacientes that new consultas wait for.
      let synced = 0;
      for (let round = 0; ; round++) {
        let busy = false;
        for (const table of MIGRATED_TABLES) {
          const r = await syncToHorizon(source, target.client as never, table);
          synced += r.applied;
          if (r.outcome !== "caught-up") busy = true;
        }
        if (!busy) break;
        if (round > 200) throw new Error("the sync did not catch up with the writer");
        await sleep(200);
      }
      say(`sync: ${synced} rows applied after the bulk load, every table caught up`);
      let transactions = 0;
      let skipped = 0;
      const outcomes: Record<string, number> = {};
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const r = await cdcBatch(source, target.client as never);
        transactions += r.transactions;
        skipped += r.skippedBySync;
        outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
        if (!r.more) await sleep(100);
      }
      say(
        `CDC: ${transactions} source transactions applied while the writer ran (${skipped} row versions the sync had already applied; batches ${JSON.stringify(outcomes)})`,
      );

      const result = await cutover(source, target.client as never, { log: (l) => say(`cut-over: ${l}`) });
      writer.stop = true;
      await writer.done;
      say(
        `writer: ${writer.ok} writes acknowledged, ${writer.refused} refused once the source was read-only`,
      );
      for (const t of result.tables)
        say(
          `${t.table}: ${t.ok ? "equal" : "DIFFERENT"} (source ${t.source.count}, target ${t.target.count}, ${t.quarantined} quarantined)`,
        );
      say("quarantine (kept for review, never dropped):");
      for (const q of result.quarantine) say(`  ${q.tabela}/${q.motivo}: ${q.n}`);
      const verified = result.tables.filter((t) => t.ok).length;
      const lost = result.tables.reduce((a, t) => a + Math.max(0, t.source.count - t.target.count), 0);
      say(`${result.go ? "GO" : "NO-GO"} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      console.log(
        `rehearsal: ${verified} of ${result.tables.length} tables verified equal (count and checksum); rows lost: ${lost}`,
      );
      if (!result.go) process.exitCode = 3;
    } finally {
      await target.close();
    }
  } finally {
    writer.stop = true;
    await writer.done.catch(() => {});
    await source.end().catch(() => {});
    await endpoint?.close().catch(() => {});
    if (process.argv.includes("--keep")) say(`kept the cluster: ${cluster.url} (data in ${cluster.dataDir})`);
    else await cluster.destroy();
  }
});

/**
 * A legacy application still in use: random inserts, updates and deletes, each its own
 * transaction, until the source refuses writes (read-only after the cut-over) or `stop`.
 */
async function writeWhileMigrating(url: string, state: { stop: boolean; ok: number; refused: number }) {
  let client: pg.Client | null = null;
  let n = 0;
  while (!state.stop) {
    try {
      if (!client) {
        client = new pg.Client({ connectionString: url, application_name: "legacy-app" });
        client.on("error", () => {});
        await client.connect();
      }
      const op = n++ % 6;
      const one = async (sql: string) =>
        (await client!.query(sql)).rows[0] as Record<string, string> | undefined;
      if (op === 0) {
        await client.query(
          `INSERT INTO pacientes (nome, email, cpf, data_nascimento, fisioterapeuta_id)
           SELECT 'Paciente Novo ' || $1::int, 'novo' || $1::int || '@exemplo.br', lpad(($1::bigint + 90000000000)::text, 11, '0'), '01/01/1990',
                  (SELECT id FROM fisioterapeutas ORDER BY random() LIMIT 1)`,
          [n],
        );
      } else if (op === 1) {
        await client.query(
          "UPDATE pacientes SET telefone = '(11) 9' || lpad(($1::int % 10000)::text, 4, '0') || '-0000' WHERE id = (SELECT id FROM pacientes ORDER BY random() LIMIT 1)",
          [n],
        );
      } else if (op === 2) {
        const p = await one("SELECT id, fisioterapeuta_id FROM pacientes ORDER BY random() LIMIT 1");
        if (p)
          await client.query(
            `INSERT INTO consultas (paciente_id, fisioterapeuta_id, data_hora, status)
             VALUES ($1, $2, timestamptz '2027-06-01 11:00+00' + make_interval(hours => $3::int), 'AGENDADA')`,
            [p.id, p.fisioterapeuta_id, n],
          );
      } else if (op === 3) {
        await client.query(
          "UPDATE consultas SET status = 'CONFIRMADA' WHERE id = (SELECT id FROM consultas WHERE status = 'AGENDADA' ORDER BY random() LIMIT 1)",
        );
      } else if (op === 4) {
        await client.query(
          "DELETE FROM prescricoes WHERE id = (SELECT id FROM prescricoes ORDER BY random() LIMIT 1)",
        );
      } else {
        const p = await one("SELECT id, fisioterapeuta_id FROM pacientes ORDER BY random() LIMIT 1");
        if (p)
          await client.query(
            "INSERT INTO prontuarios (paciente_id, fisioterapeuta_id, conteudo) VALUES ($1, $2, 'Evolução registrada durante a migração.')",
            [p.id, p.fisioterapeuta_id],
          );
      }
      state.ok++;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // Anything but "read-only now" (25006) or "session ended by the cut-over" (57P01, a lost
      // connection) is a bug in this writer: the rehearsal fails rather than hide it.
      if (code && code !== "25006" && code !== "57P01") throw err;
      state.refused++;
      await client?.end().catch(() => {});
      client = null;
      if (state.refused > 3) return;
      await sleep(50);
      continue;
    }
    await sleep(5);
  }
  await client?.end().catch(() => {});
}
