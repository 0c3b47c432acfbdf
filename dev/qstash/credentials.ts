/**
 * The credentials Upstash's own local QStash server uses. `@upstash/qstash` ships the same values
 * (src/dev-server/constants.ts) and uses them in dev mode, so a `Receiver` built for local dev
 * verifies our signatures unchanged. Local development values only: never used in production.
 */
export const QSTASH_DEV_CREDENTIALS = {
  token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
  currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
  nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
} as const;
