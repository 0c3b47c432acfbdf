/** The generated OpenAPI document is complete for /v1, and /docs serves the page that renders it. */
import { describe, expect, it } from "vitest";
import { createApp } from "../../functions/app";
import { requestApp } from "../harness/app";
import type { Json } from "../harness/http";

describe("/openapi.json and /docs", () => {
  it("documents every /v1 operation with bearer security and the shared error responses", async () => {
    const res = await requestApp(createApp(), "/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Json;
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const ops = Object.entries(doc.paths as Record<string, Record<string, Json>>)
      .filter(([path]) => path.startsWith("/v1/"))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ at: `${method} ${path}`, op })),
      );
    expect(ops.length).toBeGreaterThanOrEqual(5);
    for (const { at, op } of ops) {
      expect(op.security, at).toEqual([{ bearerAuth: [] }]);
      for (const status of ["400", "401", "429", "500", "503"]) {
        expect(op.responses[status]?.content?.["application/json"]?.schema, `${at} ${status}`).toEqual({
          $ref: "#/components/schemas/Error",
        });
      }
      expect(op.summary, at).toBeTruthy();
    }
  });

  it("serves the reference page, which renders /openapi.json", async () => {
    const res = await requestApp(createApp(), "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain('fetch("/openapi.json")');
  });
});
