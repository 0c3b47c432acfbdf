/** `--name value` from argv. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Runs a CLI's main: on failure, "<name> failed: <message>" on stderr and exit code 1. */
export function run(name: string, main: () => Promise<void>): void {
  main().catch((err) => {
    console.error(`${name} failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
