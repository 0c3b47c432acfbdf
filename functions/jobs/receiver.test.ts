import { describe, expect, it } from "vitest";
import { IN_PROCESS_ENV, requestApp } from "../../test/harness/app";
import { signQStash } from "../../test/harness/qstash";
import { createApp } from "../app";

// No Redis: the heartbeat answers "skipped" once the signature is accepted, and nothing leaves
// the process (neon() only connects when queried).
async function deliver(publicUrl: string, signedUrl: string, requestPath: string) {
  const signature = await signQStash(IN_PROCESS_ENV.QSTASH_CURRENT_SIGNING_KEY!, signedUrl, "{}");
  return requestApp(
    createApp(),
    requestPath,
    {
      method: "POST",
      body: "{}",
      headers: { "upstash-signature": signature, "upstash-message-id": `msg_${crypto.randomUUID()}` },
    },
    { PUBLIC_URL: publicUrl },
  );
}

describe("job receiver behind PUBLIC_URL", () => {
  it("verifies against the destination schedules:sync builds, path prefix included", async () => {
    const res = await deliver(
      "https://edge.example/fisioflow/",
      "https://edge.example/fisioflow/jobs/heartbeat",
      "http://worker.internal/jobs/heartbeat",
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "skipped" });
  });

  it("keeps the query string QStash signed", async () => {
    const res = await deliver(
      "https://edge.example",
      "https://edge.example/jobs/heartbeat?source=cron",
      "http://worker.internal/jobs/heartbeat?source=cron",
    );
    expect(res.status).toBe(200);
  });

  it("still refuses a signature for another URL", async () => {
    const res = await deliver(
      "https://edge.example",
      "https://elsewhere.example/jobs/heartbeat",
      "http://worker.internal/jobs/heartbeat",
    );
    expect(res.status).toBe(401);
  });
});
