import { createApp } from "./app";

/** Cloudflare Workers entry. */
const app = createApp();
export default app;
