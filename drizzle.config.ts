import { defineConfig } from "drizzle-kit";

/**
 * drizzle-kit generates the SQL for plain tables into db/migrations; what it cannot express
 * (partitioned tables, RLS, triggers, functions, grants) lives in hand-written files created with
 * `npx drizzle-kit generate --custom --name <what>` so that one journal numbers them all.
 * Migrations are applied by db/migrate.ts (npm run db:migrate), not by drizzle-kit migrate.
 */
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema",
  out: "./db/migrations",
  casing: "snake_case",
  dbCredentials: { url: process.env.DATABASE_OWNER_URL ?? "" },
});
