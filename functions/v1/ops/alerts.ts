/**
 * /v1/ops/alerts: the alert rules (CRUD), their current states and the history of transitions
 * (jobs/alerts evaluates them every minute). Admins only: the routes check the role, and the
 * database shows analytics.alertas_* to admins only (forced RLS on the caller-scoped handle,
 * migration 0017), so no owner connection is involved. Never cached.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { isUniqueViolation } from "../../../db/errors";
import { MAX_ATTEMPTS } from "../../../jobs/alerts";
import { ApiError } from "../../errors";
import type { V1Env } from "../context";
import { decodeCursor, encodeCursor } from "../cursor";
import { etagOf, tagAndCheckNotModified, versionFromIfMatch } from "../etag";
import { allowRoles } from "../guards";
import {
  bearerSecurity,
  created,
  errorResponses,
  IdempotencyKeyHeader,
  IdParam,
  IfMatchHeader,
  IfNoneMatchHeader,
  NOT_MODIFIED,
  versioned,
} from "../openapi";
import {
  AlertHistoryPage,
  AlertHistoryQuery,
  AlertRule,
  AlertRuleList,
  CreateAlertRule,
  insecureWebhooks,
  ListAlertRulesQuery,
  UpdateAlertRule,
} from "./alerts-schema";
import { NO_STORE } from "./neon";

// ------------------------------------------------------------------------------------------------
// SQL (the caller's identity runs first in each batch: RLS shows these tables to admins only)

/** Every column of a rule, its version, and its instances (most urgent first). */
const RULE_COLUMNS = `r.id::text, r.nome, r.metrica, r.operador, r.limiar, r.por_segundos, r.severidade,
  r.repetir_segundos, r.filtro, r.rotulos, r.webhooks, r.ativa, r.created_at, r.updated_at,
  r.updated_at::text AS version,
  coalesce((SELECT jsonb_agg(jsonb_build_object('instance', i.rotulos, 'state', i.estado, 'since', i.desde,
                                                'value', i.valor, 'sample_at', i.ultima_amostra)
                             ORDER BY array_position(ARRAY['firing', 'pending', 'resolved', 'inactive'], i.estado),
                                      i.desde DESC, i.rotulos)
              FROM analytics.alertas_instancias i WHERE i.regra_id = r.id), '[]'::jsonb) AS instancias`;

const RULES = `SELECT ${RULE_COLUMNS} FROM analytics.alertas_regras r ORDER BY r.nome`;
const RULE_BY_ID = `SELECT ${RULE_COLUMNS} FROM analytics.alertas_regras r WHERE r.id = $1`;
const RULE_VERSION = "SELECT r.updated_at::text AS version FROM analytics.alertas_regras r WHERE r.id = $1";
const DELETE_RULE = "DELETE FROM analytics.alertas_regras r WHERE r.id = $1 RETURNING r.id";

/** API field → column: the only names a write may set (never taken from input). */
const COLUMN = {
  name: ["nome", ""],
  metric: ["metrica", ""],
  operator: ["operador", ""],
  threshold: ["limiar", "::float8"],
  for_seconds: ["por_segundos", "::integer"],
  severity: ["severidade", ""],
  repeat_seconds: ["repetir_segundos", "::integer"],
  match: ["filtro", "::jsonb"],
  labels: ["rotulos", "::jsonb"],
  webhooks: ["webhooks", "::text[]"],
  enabled: ["ativa", "::boolean"],
} as const satisfies Record<keyof CreateAlertRule, readonly [string, string]>;
type Field = keyof typeof COLUMN;

const param = (field: Field, value: unknown) =>
  field === "match" || field === "labels" ? JSON.stringify(value) : value;

function insertRule(values: CreateAlertRule) {
  const fields = Object.keys(COLUMN) as Field[];
  return {
    text: `INSERT INTO analytics.alertas_regras AS r (${fields.map((f) => COLUMN[f][0]).join(", ")})
           VALUES (${fields.map((f, i) => `$${i + 1}${COLUMN[f][1]}`).join(", ")})
           ON CONFLICT ON CONSTRAINT alertas_regras_nome_key DO NOTHING
           RETURNING ${RULE_COLUMNS}`,
    params: fields.map((f) => param(f, values[f])),
  };
}

/** The UPDATE of the given fields, only while the version is still `version` (when given). */
function updateRule(id: string, values: UpdateAlertRule, version: string | undefined) {
  const fields = (Object.keys(COLUMN) as Field[]).filter((f) => values[f] !== undefined);
  return {
    text: `UPDATE analytics.alertas_regras AS r
              SET ${fields.map((f, i) => `${COLUMN[f][0]} = $${i + 3}${COLUMN[f][1]}`).join(", ")}
            WHERE r.id = $1 AND ($2::timestamptz IS NULL OR r.updated_at = $2::timestamptz)
           RETURNING ${RULE_COLUMNS}`,
    params: [id, version ?? null, ...fields.map((f) => param(f, values[f]))],
  };
}

const HISTORY = `
SELECT h.id::text, h.regra_id::text, h.regra_nome, h.metrica, h.rotulos, h.de, h.para, h.em, h.valor,
       h.operador, h.limiar, h.severidade, h.notificacao,
       (SELECT count(*) FROM analytics.alertas_notificacoes n WHERE n.historico_id = h.id)::int AS webhooks,
       (SELECT count(*) FROM analytics.alertas_notificacoes n
         WHERE n.historico_id = h.id AND n.enviada_em IS NOT NULL)::int AS enviadas,
       (SELECT count(*) FROM analytics.alertas_notificacoes n
         WHERE n.historico_id = h.id AND n.enviada_em IS NULL AND n.tentativas >= $6)::int AS desistidas
  FROM analytics.alertas_historico h
 WHERE ($1::uuid IS NULL OR h.regra_id = $1::uuid)
   AND ($2::timestamptz IS NULL OR h.em >= $2::timestamptz)
   AND ($3::timestamptz IS NULL OR h.em <= $3::timestamptz)
   AND ($4::bigint IS NULL OR h.id < $4::bigint)
 ORDER BY h.id DESC
 LIMIT $5::integer`;

// ------------------------------------------------------------------------------------------------
// Rows → JSON

interface RuleRow {
  id: string;
  nome: string;
  metrica: string;
  operador: AlertRule["operator"];
  limiar: number;
  por_segundos: number;
  severidade: AlertRule["severity"];
  repetir_segundos: number;
  filtro: Record<string, string>;
  rotulos: Record<string, string>;
  webhooks: string[];
  ativa: boolean;
  created_at: Date | string;
  updated_at: Date | string;
  version: string;
  instancias: {
    instance: Record<string, string>;
    state: AlertRule["state"];
    since: string | null;
    value: number | null;
    sample_at: string | null;
  }[];
}

const iso = (v: Date | string) => new Date(v).toISOString();
const isoOrNull = (v: Date | string | null) => (v === null ? null : iso(v));

function toRule(r: RuleRow): AlertRule {
  const instances = r.instancias.map((i) => ({
    instance: i.instance,
    state: i.state,
    since: isoOrNull(i.since),
    value: i.value,
    sample_at: isoOrNull(i.sample_at),
  }));
  // The most urgent instance comes first (the query orders them so).
  const top = instances[0];
  return {
    id: r.id,
    name: r.nome,
    metric: r.metrica,
    operator: r.operador,
    threshold: Number(r.limiar),
    for_seconds: r.por_segundos,
    severity: r.severidade,
    repeat_seconds: r.repetir_segundos,
    match: r.filtro,
    labels: r.rotulos,
    webhooks: r.webhooks,
    enabled: r.ativa,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    state: top?.state ?? "inactive",
    since: top?.since ?? null,
    value: top?.value ?? null,
    instances,
  };
}

/** 400 for a plain-http webhook in staging or production (the schema cannot see ENVIRONMENT). */
function checkWebhooks(c: Context<V1Env>, webhooks: string[] | undefined) {
  const where = c.get("env").ENVIRONMENT;
  const bad = insecureWebhooks(where, webhooks ?? []);
  if (bad.length)
    throw new ApiError(
      "bad_request",
      "Invalid request",
      bad.map((i) => ({
        path: `webhooks.${i}`,
        message: `webhooks must be https in ${where}`,
        code: "custom",
      })),
    );
}

function nameTaken(err: unknown): never {
  if (isUniqueViolation(err, "alertas_regras_nome_key"))
    throw new ApiError("conflict", "An alert rule with this name exists", { field: "name" });
  throw err;
}

// ------------------------------------------------------------------------------------------------
// Routes

const tags = ["ops"];
const ADMINS = "Admins only (403 for any other role); never cached (`Cache-Control: no-store`).";

const listRoute = createRoute({
  method: "get",
  path: "/ops/alerts",
  tags,
  summary: "Alert rules with their current state (admin)",
  description:
    `${ADMINS} Every rule by name, each with its instances (one per label set of its metric that ` +
    "matches) and the most urgent of their states as `state`, `since` and `value`. `?state=firing` " +
    "lists the rules with a firing instance (what the ops dashboard shows).",
  security: bearerSecurity,
  request: { query: ListAlertRulesQuery },
  responses: {
    200: {
      description: "The rules",
      headers: NO_STORE,
      content: { "application/json": { schema: AlertRuleList } },
    },
    ...errorResponses(403),
  },
});

const historyRoute = createRoute({
  method: "get",
  path: "/ops/alerts/history",
  tags,
  summary: "The history of alert transitions (admin)",
  description:
    `${ADMINS} Newest first, in cursor pages: every state change of every instance (and every ` +
    "repeated announcement), with the value and thresholds it was decided on, what was announced " +
    "and how its webhook notifications went. Kept 90 days; kept when its rule is deleted.",
  security: bearerSecurity,
  request: { query: AlertHistoryQuery },
  responses: {
    200: {
      description: "A page",
      headers: NO_STORE,
      content: { "application/json": { schema: AlertHistoryPage } },
    },
    ...errorResponses(403),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/ops/alerts/{id}",
  tags,
  summary: "One alert rule, with its ETag (admin)",
  description: ADMINS,
  security: bearerSecurity,
  request: { params: IdParam, headers: IfNoneMatchHeader },
  responses: {
    200: versioned(AlertRule, "The rule; `ETag` names this version (send it as If-Match to update)"),
    304: NOT_MODIFIED,
    ...errorResponses(403, 404),
  },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/ops/alerts",
  tags,
  summary: "Create an alert rule (admin)",
  description:
    `${ADMINS} The rule applies from the next evaluation (every minute). A name in use answers 409. ` +
    "Webhooks must be https in staging and production.",
  security: bearerSecurity,
  request: {
    headers: IdempotencyKeyHeader,
    body: { required: true, content: { "application/json": { schema: CreateAlertRule } } },
  },
  responses: {
    201: created(AlertRule, "Created"),
    ...errorResponses(403, 409, 422),
  },
});

const updateRouteDef = createRoute({
  method: "patch",
  path: "/ops/alerts/{id}",
  tags,
  summary: "Change an alert rule (admin)",
  description:
    `${ADMINS} Send the ETag of your last read as If-Match (a stale one answers 412). A new ` +
    "threshold or operator applies from the next sample; a new metric or match drops the instances " +
    "that no longer apply (recorded in the history, not announced), and so does disabling the rule.",
  security: bearerSecurity,
  request: {
    params: IdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: UpdateAlertRule } } },
  },
  responses: {
    200: versioned(AlertRule, "Updated"),
    ...errorResponses(403, 404, 409, 412),
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/ops/alerts/{id}",
  tags,
  summary: "Delete an alert rule (admin)",
  description: `${ADMINS} Its instances go with it (nothing is announced); its history stays.`,
  security: bearerSecurity,
  request: { params: IdParam },
  responses: {
    204: { description: "Deleted", headers: NO_STORE },
    ...errorResponses(403, 404),
  },
});

export function registerAlerts(app: OpenAPIHono<V1Env>) {
  app.openapi(listRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const { state } = c.req.valid("query");
    const [rows] = await c
      .get("db")
      .batch<[RuleRow[]]>((sql) => [sql(RULES)], { readOnly: true, primary: true });
    const data = rows.map(toRule).filter((r) => !state || r.state === state);
    return c.json({ data }, 200);
  });

  // Before /ops/alerts/{id}, which would otherwise take "history" for an id.
  app.openapi(historyRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const q = c.req.valid("query");
    const after = q.cursor
      ? decodeCursor(q.cursor, z.object({ id: z.string().regex(/^\d{1,19}$/) })).id
      : null;
    const [rows] = await c
      .get("db")
      .batch<[HistoryRow[]]>(
        (sql) => [
          sql(HISTORY, [q.rule_id ?? null, q.from ?? null, q.to ?? null, after, q.limit + 1, MAX_ATTEMPTS]),
        ],
        { readOnly: true, primary: true },
      );
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        data: page.map(toTransition),
        next_cursor: rows.length > q.limit ? encodeCursor({ id: page.at(-1)!.id }) : null,
      },
      200,
    );
  });

  app.openapi(getRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const { id } = c.req.valid("param");
    const [[row]] = await c
      .get("db")
      .batch<[RuleRow[]]>((sql) => [sql(RULE_BY_ID, [id])], { readOnly: true, primary: true });
    if (!row) throw new ApiError("not_found", "No such alert rule");
    if (tagAndCheckNotModified(c, row.version, c.req.valid("header")["if-none-match"]))
      return c.body(null, 304);
    return c.json(toRule(row), 200);
  });

  app.openapi(createRouteDef, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const body = c.req.valid("json");
    checkWebhooks(c, body.webhooks);
    const { text, params } = insertRule(body);
    const [[row]] = await c.get("db").batch<[RuleRow[]]>((sql) => [sql(text, params)]);
    if (!row) throw new ApiError("conflict", "An alert rule with this name exists", { field: "name" });
    c.header("ETag", etagOf(row.version));
    c.header("Location", `/v1/ops/alerts/${row.id}`);
    return c.json(toRule(row), 201);
  });

  app.openapi(updateRouteDef, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    checkWebhooks(c, body.webhooks);
    const { text, params } = updateRule(id, body, versionFromIfMatch(c.req.valid("header")["if-match"]));
    // The conditional UPDATE, then whether the rule exists at all: 412 or 404 in one round trip.
    const [[row], [current]] = await c
      .get("db")
      .batch<[RuleRow[], { version: string }[]]>((sql) => [sql(text, params), sql(RULE_VERSION, [id])])
      .catch(nameTaken);
    if (!row) {
      if (current)
        throw new ApiError("precondition_failed", "The alert rule changed since If-Match; read it again");
      throw new ApiError("not_found", "No such alert rule");
    }
    c.header("ETag", etagOf(row.version));
    return c.json(toRule(row), 200);
  });

  app.openapi(deleteRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    allowRoles(c.get("auth"), "admin");
    const { id } = c.req.valid("param");
    const [rows] = await c.get("db").batch((sql) => [sql(DELETE_RULE, [id])]);
    if (rows.length === 0) throw new ApiError("not_found", "No such alert rule");
    return c.body(null, 204);
  });
}

interface HistoryRow {
  id: string;
  regra_id: string;
  regra_nome: string;
  metrica: string;
  rotulos: Record<string, string>;
  de: AlertRule["state"];
  para: AlertRule["state"];
  em: Date | string;
  valor: number | null;
  operador: AlertRule["operator"];
  limiar: number;
  severidade: AlertRule["severity"];
  notificacao: "firing" | "resolved" | null;
  webhooks: number;
  enviadas: number;
  desistidas: number;
}

function toTransition(h: HistoryRow) {
  return {
    id: h.id,
    rule_id: h.regra_id,
    rule_name: h.regra_nome,
    metric: h.metrica,
    instance: h.rotulos,
    from: h.de,
    to: h.para,
    at: iso(h.em),
    value: h.valor === null ? null : Number(h.valor),
    operator: h.operador,
    threshold: Number(h.limiar),
    severity: h.severidade,
    notification: h.notificacao,
    deliveries: { webhooks: h.webhooks, sent: h.enviadas, given_up: h.desistidas },
  };
}
