/** The statement checks of role-guard.ts: pure text checks, no database. */
import { describe, expect, it } from "vitest";
import { queryMessage } from "./protocol";
import { guardReadOnly, readOnlyChangeIn, roleChangeIn } from "./role-guard";

describe("readOnlyChangeIn: what a read-only endpoint refuses", () => {
  it.each([
    "SET default_transaction_read_only = off",
    "set transaction_read_only to false",
    "RESET default_transaction_read_only",
    "reset all",
    "BEGIN READ WRITE",
    "start transaction isolation level serializable, read   write",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "select set_config('transaction_read_only', 'off', false)",
    "select set_config($1, 'off', false)",
    'SET "default_transaction_read_only" = off',
    "/* */ set/**/transaction_read_only = off",
    "DO $$ BEGIN EXECUTE 'SET default_transaction_read_only = off'; END $$",
  ])("refuses %s", (sql) => {
    expect(readOnlyChangeIn(sql)).toMatch(/read-write/);
  });

  it.each([
    "select * from pacientes where nome = $1",
    "SELECT app.entrar(set_config('app.identity', $1, true))",
    "begin read only",
    "select 'read_write_ratio' as label",
  ])("lets %s through", (sql) => {
    expect(readOnlyChangeIn(sql)).toBeNull();
  });

  it("replaces a refused Query by one that fails with 25006, leaving the others", () => {
    const ok = queryMessage("select 1");
    const bad = queryMessage("set default_transaction_read_only = off");
    const out = guardReadOnly(Buffer.concat([ok, bad]));
    expect(out.subarray(0, ok.length)).toEqual(ok);
    const sql = out.subarray(ok.length + 5).toString("utf8");
    expect(sql).toContain("ERRCODE = '25006'");
    expect(guardReadOnly(ok)).toBe(ok);
  });

  it("the role check is unchanged by the refactor", () => {
    expect(roleChangeIn("set role postgres")).toMatch(/permission denied to set role/);
    expect(roleChangeIn("select 1")).toBeNull();
  });
});
