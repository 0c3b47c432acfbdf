import { createApp } from "./app";

/** Vercel Edge entry: the same app, with Vercel's environment variables as its bindings. */
export const config = { runtime: "edge" };

const app = createApp();

export default function handler(req: Request): Response | Promise<Response> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  return app.fetch(req, env);
}
