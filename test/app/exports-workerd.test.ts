/**
 * The export job in the production runtime: the worker under `wrangler dev` (workerd, its FILES
 * binding to miniflare's R2, node:crypto's hash, CompressionStream and WebCrypto as Workers has
 * them), delivered as QStash delivers it, and its export listed by GET /v1/ops/exports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportId } from "../../jobs/exports/manifest";
import { tokenFor } from "../harness/auth";
import { testBackends } from "../harness/backends";
import { type Cloud, startCloud, TEST_JWT_SECRET } from "../harness/cloud";
import { signQStash } from "../harness/qstash";

const backends = await testBackends();
const EXPORT_KEY = Buffer.alloc(32, 3).toString("base64");

describe.each(backends)("the export job in workerd on $name", ({ name, skip }) => {
  let cloud: Cloud;
  beforeAll(async () => {
    if (skip) return;
    cloud = await startCloud({ backend: name, vars: { EXPORT_KEY, EXPORT_KEY_ID: "wk" } });
  });
  afterAll(async () => {
    await cloud?.close();
  });

  it.skipIf(skip)("exports to the worker's R2 binding and lists the export as complete", async () => {
    await cloud.system((c) =>
      c.query(
        `INSERT INTO fisioterapeutas (id, nome, email, crefito) VALUES ($1, 'Ana Souza', $2, 'CREFITO-3/9-F')`,
        [crypto.randomUUID(), `ana.${crypto.randomUUID()}@x.br`],
      ),
    );
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const id = exportId(at);
    const url = `${cloud.workerUrl}/jobs/exports`;
    const body = JSON.stringify({ at: at.toISOString() });
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "upstash-signature": await signQStash(cloud.qstash.currentSigningKey, url, body),
        "upstash-message-id": `msg_${crypto.randomUUID()}`,
      },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "done", id });

    const admin = await tokenFor({ userId: crypto.randomUUID(), role: "admin" }, TEST_JWT_SECRET);
    const list = await fetch(`${cloud.workerUrl}/v1/ops/exports`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(list.status).toBe(200);
    const { data } = (await list.json()) as {
      data: {
        id: string;
        status: string;
        key_id: string;
        manifest: { tables: number; rows: number } | null;
      }[];
    };
    const e = data.find((x) => x.id === id);
    expect(e).toMatchObject({ status: "complete", key_id: "wk" });
    expect(e!.manifest!.tables).toBeGreaterThan(10);
    expect(e!.manifest!.rows).toBeGreaterThan(0);
  });
});
