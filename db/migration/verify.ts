/**
 * Verification, source against target, computed in the databases (no rows come to the caller):
 * per table the row count and an order-independent checksum — the sum of the first 60 bits of
 * md5 of each row's text — over the mapped columns (tables.ts `columns`; not created_at /
 * updated_at, which the target's triggers own). The source side runs the same mapping the sync
 * sends, so equal means "every row the new schema accepted is there, with the values the mapping
 * gives". Rows in quarantine are left out on both sides (their ids, not their values, go to the
 * source query). Both sides format values the same way: UTC, ISO dates.
 */
import { SYSTEM_SQL } from "../session";
import type { SqlClient } from "./sync";
import { isMigratedTable, type MigratedTableName, mappedSelect, TABLES } from "./tables";

export interface Side {
  count: number;
  checksum: string;
}

export interface TableVerification {
  table: MigratedTableName;
  source: Side;
  target: Side;
  quarantined: number;
  ok: boolean;
}

const FORMAT =
  "SET LOCAL TimeZone TO 'UTC'; SET LOCAL DateStyle TO 'ISO, YMD'; SET LOCAL IntervalStyle TO 'postgres'";

function checksumOf(projection: string, columns: readonly string[]): string {
  return `SELECT count(*)::bigint::text AS n,
                 coalesce(sum(('x' || substr(md5(ROW(${columns.map((c) => `m.${c}`).join(", ")})::text), 1, 15))::bit(60)::bigint), 0)::text AS sum
            FROM (${projection}) m`;
}

async function inTransaction<T>(client: SqlClient, setup: string[], work: () => Promise<T>): Promise<T> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    for (const s of setup) await client.query(s);
    const out = await work();
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** Verifies one table and records the result in migration.tabelas (phase 'verificada' when equal). */
export async function verifyTable(
  source: SqlClient,
  target: SqlClient,
  tableName: string,
): Promise<TableVerification> {
  if (!isMigratedTable(tableName)) throw new Error(`unknown migrated table ${tableName}`);
  const t = TABLES[tableName];
  const cols = t.columns;
  const { quarantined, targetSide } = await inTransaction(
    target,
    [SYSTEM_SQL, ...FORMAT.split("; ")],
    async () => {
      const q = await target.query(
        "SELECT coalesce(array_agg(id::text), '{}') AS ids FROM migration.quarentena WHERE tabela = $1",
        [tableName],
      );
      const ids = q.rows[0]!.ids as string[];
      const r = await target.query(
        checksumOf(`SELECT ${cols.join(", ")} FROM public.${t.name} WHERE id <> ALL($1::uuid[])`, cols),
        [ids],
      );
      return {
        quarantined: ids,
        targetSide: { count: Number(r.rows[0]!.n), checksum: r.rows[0]!.sum as string },
      };
    },
  );
  const sourceSide = await inTransaction(source, FORMAT.split("; "), async () => {
    const r = await source.query(
      checksumOf(
        `SELECT * FROM (${mappedSelect(t)}) x WHERE x._motivo IS NULL AND x.id <> ALL($1::uuid[])`,
        cols,
      ),
      [quarantined],
    );
    return { count: Number(r.rows[0]!.n), checksum: r.rows[0]!.sum as string };
  });
  const ok = sourceSide.count === targetSide.count && sourceSide.checksum === targetSide.checksum;
  const result: TableVerification = {
    table: tableName,
    source: sourceSide,
    target: targetSide,
    quarantined: quarantined.length,
    ok,
  };
  await target.query(
    `INSERT INTO migration.tabelas AS m (tabela, verificacao, verificado_em, fase)
     VALUES ($1, $2::jsonb, now(), CASE WHEN $3 THEN 'verificada' ELSE 'pendente' END)
     ON CONFLICT (tabela) DO UPDATE
       SET verificacao = excluded.verificacao, verificado_em = excluded.verificado_em,
           fase = CASE WHEN $3 THEN 'verificada'
                       WHEN m.fase = 'verificada' THEN 'sync' ELSE m.fase END`,
    [
      tableName,
      JSON.stringify({ source: sourceSide, target: targetSide, quarantined: quarantined.length, ok }),
      ok,
    ],
  );
  return result;
}
