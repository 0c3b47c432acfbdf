/**
 * The import graph of production code: top-level folders import downward only
 * (functions → jobs → db), scripts/ sit beside functions/ on top of jobs/ and db/, and no
 * production code reaches into dev/ (the local cloud) or test/. Static and dynamic imports alike;
 * test files are exempt.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

/** Folder → the top-level folders its production files must not import. */
const FORBIDDEN: Record<string, string[]> = {
  db: ["functions", "jobs", "scripts", "dev", "test"],
  jobs: ["functions", "scripts", "dev", "test"],
  functions: ["scripts", "dev", "test"],
  scripts: ["functions", "dev", "test"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** The top-level folder each relative import of `file` lands in. */
function importedFolders(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)].map((m) => m[1]!);
  return specs
    .filter((s) => s.startsWith("."))
    .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).split("/")[0]!);
}

describe("import layering", () => {
  it("finds the imports it checks (the scanner sees static and dynamic imports)", () => {
    expect(
      importedFolders("db/x.ts", 'import { a } from "../functions/app";\nawait import("../dev/vars");'),
    ).toEqual(["functions", "dev"]);
    expect(sourceFiles("db").length).toBeGreaterThan(5);
  });

  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${folder}/ imports none of ${forbidden.join(", ")}`, () => {
      const arrows = sourceFiles(folder).flatMap((file) =>
        importedFolders(file, readFileSync(join(ROOT, file), "utf8"))
          .filter((target) => forbidden.includes(target))
          .map((target) => `${file} → ${target}/`),
      );
      expect(arrows).toEqual([]);
    });
  }
});
