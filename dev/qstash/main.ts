/** `tsx dev/qstash/main.ts`: the local QStash on $PORT (default 8080), until SIGINT / SIGTERM. */
import { LOCAL } from "../config";
import { startQStash } from "./index";

const emulator = await startQStash({
  port: Number(process.env.PORT ?? LOCAL.ports.qstash),
  hostname: process.env.HOST ?? LOCAL.host,
  log: (line) => console.log(line),
});
console.log(`QStash emulator listening on ${emulator.url}`);
console.log(`QSTASH_URL=${emulator.url}`);
console.log(`QSTASH_TOKEN=${emulator.token}`);
console.log(`QSTASH_CURRENT_SIGNING_KEY=${emulator.currentSigningKey}`);
console.log(`QSTASH_NEXT_SIGNING_KEY=${emulator.nextSigningKey}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void emulator.close().then(() => process.exit(0));
  });
}
