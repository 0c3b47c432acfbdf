/**
 * The pgoutput (protocol 1) decoder on messages built by hand, byte by byte, plus a few captured
 * from a PostgreSQL 15 slot, and the grouping of messages into committed transactions.
 */
import { describe, expect, it } from "vitest";
import {
  assembleTransactions,
  type Cell,
  compareLsn,
  decodePgoutput,
  formatLsn,
  PgoutputError,
  type PgoutputMessage,
  parseLsn,
  type RelationMessage,
  tupleToRecord,
  UNCHANGED,
} from "./pgoutput";

// ------------------------------------------------------------------------------------------------
// A tiny message builder

const int8 = (v: number) => Buffer.from([v & 0xff]);
const int16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const uint32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const int64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
const lsn = (text: string) => int64(parseLsn(text));
const cstr = (s: string) => Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
const tag = (c: string) => Buffer.from(c, "latin1");
/** µs since 2000-01-01 for an ISO instant. */
const pgTime = (iso: string) => BigInt(Date.parse(iso) - Date.UTC(2000, 0, 1)) * 1000n;

function tuple(cells: Cell[]): Buffer {
  return Buffer.concat([
    int16(cells.length),
    ...cells.map((c) => {
      if (c === null) return tag("n");
      if (c === UNCHANGED) return tag("u");
      const bytes = Buffer.from(c, "utf8");
      return Buffer.concat([tag("t"), int32(bytes.length), bytes]);
    }),
  ]);
}

const msg = {
  begin: (finalLsn: string, at: string, xid: number) =>
    Buffer.concat([tag("B"), lsn(finalLsn), int64(pgTime(at)), uint32(xid)]),
  commit: (commitLsn: string, endLsn: string, at: string) =>
    Buffer.concat([tag("C"), int8(0), lsn(commitLsn), lsn(endLsn), int64(pgTime(at))]),
  relation: (id: number, ns: string, name: string, cols: [string, boolean, number][]) =>
    Buffer.concat([
      tag("R"),
      uint32(id),
      cstr(ns),
      cstr(name),
      tag("d"),
      int16(cols.length),
      ...cols.map(([n, key, oid]) => Buffer.concat([int8(key ? 1 : 0), cstr(n), uint32(oid), int32(-1)])),
    ]),
  insert: (rel: number, cells: Cell[]) => Buffer.concat([tag("I"), uint32(rel), tag("N"), tuple(cells)]),
  update: (rel: number, cells: Cell[], old?: ["K" | "O", Cell[]]) =>
    Buffer.concat([
      tag("U"),
      uint32(rel),
      ...(old ? [tag(old[0]), tuple(old[1])] : []),
      tag("N"),
      tuple(cells),
    ]),
  delete: (rel: number, kind: "K" | "O", cells: Cell[]) =>
    Buffer.concat([tag("D"), uint32(rel), tag(kind), tuple(cells)]),
  truncate: (rels: number[], options: number) =>
    Buffer.concat([tag("T"), int32(rels.length), int8(options), ...rels.map(uint32)]),
  origin: (at: string, name: string) => Buffer.concat([tag("O"), lsn(at), cstr(name)]),
  type: (oid: number, ns: string, name: string) =>
    Buffer.concat([tag("Y"), uint32(oid), cstr(ns), cstr(name)]),
  message: (at: string, prefix: string, content: string) =>
    Buffer.concat([tag("M"), int8(1), lsn(at), cstr(prefix), int32(content.length), Buffer.from(content)]),
};

const ID = "00000000-0000-4000-8000-000000000001";
const PACIENTES: [string, boolean, number][] = [
  ["id", true, 2950],
  ["nome", false, 25],
  ["ativo", false, 16],
  ["updated_at", false, 1184],
];

// ------------------------------------------------------------------------------------------------

describe("LSNs", () => {
  it("formats and parses as PostgreSQL prints them", () => {
    expect(formatLsn(0x16b374d848n)).toBe("16/B374D848");
    expect(formatLsn(0n)).toBe("0/0");
    expect(parseLsn("16/B374D848")).toBe(0x16b374d848n);
    expect(parseLsn("0/198d5b0")).toBe(0x198d5b0n);
    expect(formatLsn(parseLsn("FFFFFFFF/FFFFFFFF"))).toBe("FFFFFFFF/FFFFFFFF");
    expect(() => parseLsn("16-B374")).toThrow(PgoutputError);
  });

  it("compares numerically, not as text", () => {
    expect(compareLsn("0/9", "0/10")).toBe(-1);
    expect(compareLsn("1/0", "0/FFFFFFFF")).toBe(1);
    expect(compareLsn("0/198D5B0", "0/198d5b0")).toBe(0);
  });
});

describe("decodePgoutput", () => {
  it("Begin and Commit: LSNs, commit time (µs since 2000-01-01), xid", () => {
    expect(decodePgoutput(msg.begin("0/198D580", "2026-11-29T12:22:10.822Z", 746))).toEqual({
      type: "begin",
      finalLsn: "0/198D580",
      commitTime: new Date("2026-11-29T12:22:10.822Z"),
      xid: 746,
    });
    expect(decodePgoutput(msg.commit("0/198D580", "0/198D5B0", "2026-11-29T12:22:10.822Z"))).toEqual({
      type: "commit",
      flags: 0,
      commitLsn: "0/198D580",
      endLsn: "0/198D5B0",
      commitTime: new Date("2026-11-29T12:22:10.822Z"),
    });
    // An xid above 2^31 stays positive (it is unsigned on the wire).
    expect(decodePgoutput(msg.begin("0/1", "2026-01-01T00:00:00Z", 3_000_000_000))).toMatchObject({
      xid: 3_000_000_000,
    });
  });

  it("Relation: namespace, name, replica identity, columns with key flag, type and typmod", () => {
    expect(decodePgoutput(msg.relation(16423, "public", "pacientes", PACIENTES))).toEqual({
      type: "relation",
      relationId: 16423,
      namespace: "public",
      name: "pacientes",
      replicaIdentity: "d",
      columns: [
        { name: "id", key: true, typeOid: 2950, typmod: -1 },
        { name: "nome", key: false, typeOid: 25, typmod: -1 },
        { name: "ativo", key: false, typeOid: 16, typmod: -1 },
        { name: "updated_at", key: false, typeOid: 1184, typmod: -1 },
      ],
    });
  });

  it("Insert, Update (with and without an old tuple), Delete; null, unchanged TOAST and UTF-8 text", () => {
    expect(decodePgoutput(msg.insert(7, [ID, "João Conceição", "t", null]))).toEqual({
      type: "insert",
      relationId: 7,
      newTuple: [ID, "João Conceição", "t", null],
    });
    expect(decodePgoutput(msg.update(7, [ID, UNCHANGED, "f", ""]))).toEqual({
      type: "update",
      relationId: 7,
      oldKind: null,
      oldTuple: null,
      newTuple: [ID, UNCHANGED, "f", ""],
    });
    expect(decodePgoutput(msg.update(7, [ID, "b", "f", null], ["O", [ID, "a", "t", null]]))).toEqual({
      type: "update",
      relationId: 7,
      oldKind: "O",
      oldTuple: [ID, "a", "t", null],
      newTuple: [ID, "b", "f", null],
    });
    expect(decodePgoutput(msg.delete(7, "K", [ID, null, null, null]))).toEqual({
      type: "delete",
      relationId: 7,
      oldKind: "K",
      oldTuple: [ID, null, null, null],
    });
  });

  it("Truncate, Origin, Type and Message", () => {
    expect(decodePgoutput(msg.truncate([7, 8], 3))).toEqual({
      type: "truncate",
      relationIds: [7, 8],
      cascade: true,
      restartIdentity: true,
    });
    expect(decodePgoutput(msg.origin("0/AB", "node_a"))).toEqual({
      type: "origin",
      lsn: "0/AB",
      name: "node_a",
    });
    expect(decodePgoutput(msg.type(99999, "public", "humor"))).toEqual({
      type: "type",
      typeOid: 99999,
      namespace: "public",
      name: "humor",
    });
    const m = decodePgoutput(msg.message("0/CD", "app", "hi"));
    expect(m).toMatchObject({ type: "message", transactional: true, lsn: "0/CD", prefix: "app" });
    expect(Buffer.from((m as { content: Uint8Array }).content).toString()).toBe("hi");
  });

  it("reads a Buffer that is a window on a larger one (pg's pooled buffers)", () => {
    const inner = msg.insert(7, [ID, "x", "t", null]);
    const big = Buffer.concat([Buffer.from("garbage-before"), inner, Buffer.from("after")]);
    const view = big.subarray(14, 14 + inner.length);
    expect(decodePgoutput(view)).toEqual(decodePgoutput(inner));
  });

  it("decodes messages captured from a PostgreSQL 15 slot", () => {
    const hex = {
      begin: "42000000000198d830000304681c775fb4000002eb",
      relation:
        "52000040277075626c696300666973696f74657261706575746173006400060169640000000b86ffffffff006e6f6d650000000019ffffffff00656d61696c0000000019ffffffff006372656669746f0000000019ffffffff00637265617465645f617400000004a0ffffffff00757064617465645f617400000004a0ffffffff",
      update:
        "55000040274e0006740000002430303030303030302d303030302d343030302d383030302d3030303030303030303030317400000001427400000003614078740000000143740000001d323032362d31312d32392031323a32323a31302e3832303735362b3030740000001d323032362d31312d32392031323a32323a31302e3832343434342b3030",
      commit: "4300000000000198d830000000000198d860000304681c775fb4",
    };
    const begin = decodePgoutput(Buffer.from(hex.begin, "hex"));
    expect(begin).toMatchObject({ type: "begin", finalLsn: "0/198D830", xid: 747 });
    const rel = decodePgoutput(Buffer.from(hex.relation, "hex")) as RelationMessage;
    expect(rel.name).toBe("fisioterapeutas");
    expect(rel.columns.map((c) => [c.name, c.key, c.typeOid])).toEqual([
      ["id", true, 2950],
      ["nome", false, 25],
      ["email", false, 25],
      ["crefito", false, 25],
      ["created_at", false, 1184],
      ["updated_at", false, 1184],
    ]);
    const upd = decodePgoutput(Buffer.from(hex.update, "hex"));
    expect(upd).toMatchObject({
      type: "update",
      relationId: rel.relationId,
      oldKind: null,
      newTuple: [ID, "B", "a@x", "C", "2026-11-29 12:22:10.820756+00", "2026-11-29 12:22:10.824444+00"],
    });
    const commit = decodePgoutput(Buffer.from(hex.commit, "hex"));
    expect(commit).toMatchObject({ type: "commit", commitLsn: "0/198D830", endLsn: "0/198D860" });
    expect((commit as { commitTime: Date }).commitTime).toEqual((begin as { commitTime: Date }).commitTime);
  });

  it("refuses truncated, trailing, unknown and binary input with a PgoutputError", () => {
    const ins = msg.insert(7, [ID, "x", "t", null]);
    expect(() => decodePgoutput(ins.subarray(0, ins.length - 2))).toThrow(/truncated/);
    expect(() => decodePgoutput(Buffer.concat([ins, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => decodePgoutput(tag("Z"))).toThrow(/unknown pgoutput message type 'Z'/);
    expect(() => decodePgoutput(Buffer.alloc(0))).toThrow(PgoutputError);
    const binary = Buffer.concat([
      tag("I"),
      uint32(7),
      tag("N"),
      int16(1),
      tag("b"),
      int32(1),
      Buffer.from([1]),
    ]);
    expect(() => decodePgoutput(binary)).toThrow(/unsupported column kind 'b'/);
    expect(() => decodePgoutput(Buffer.concat([tag("I"), uint32(7), tag("K"), tuple([])]))).toThrow(
      /expected 'N'/,
    );
    expect(() => decodePgoutput(Buffer.concat([tag("R"), uint32(1), Buffer.from("public")]))).toThrow(
      /unterminated/,
    );
  });
});

describe("assembleTransactions", () => {
  const decode = (bufs: Buffer[]): PgoutputMessage[] => bufs.map((b) => decodePgoutput(b));

  it("groups changes into committed transactions in order, relations carried across them", () => {
    const { transactions, incomplete } = assembleTransactions(
      decode([
        msg.begin("0/100", "2026-01-01T10:00:00Z", 10),
        msg.relation(7, "public", "pacientes", PACIENTES),
        msg.insert(7, [ID, "a", "t", "2026-01-01 10:00:00+00"]),
        msg.update(7, [ID, "b", "t", "2026-01-01 10:00:01+00"]),
        msg.commit("0/100", "0/130", "2026-01-01T10:00:00Z"),
        msg.begin("0/200", "2026-01-01T10:00:05Z", 11),
        msg.origin("0/1", "elsewhere"),
        msg.type(99999, "public", "humor"),
        msg.delete(7, "K", [ID, null, null, null]),
        msg.message("0/190", "app", "x"),
        msg.commit("0/200", "0/230", "2026-01-01T10:00:05Z"),
      ]),
    );
    expect(incomplete).toBe(false);
    expect(transactions.map((t) => [t.xid, t.commitLsn, t.endLsn, t.changes.map((c) => c.op)])).toEqual([
      [10, "0/100", "0/130", ["insert", "update"]],
      [11, "0/200", "0/230", ["delete"]],
    ]);
    const del = transactions[1]!.changes[0]!;
    expect(del.relation.name).toBe("pacientes");
    expect(tupleToRecord(del.relation, del.oldTuple!)).toEqual({
      id: ID,
      nome: null,
      ativo: null,
      updated_at: null,
    });
    expect(transactions[0]!.commitTime).toEqual(new Date("2026-01-01T10:00:00Z"));
  });

  it("reports a transaction cut off before its commit and leaves it out", () => {
    const r = assembleTransactions(
      decode([
        msg.begin("0/100", "2026-01-01T10:00:00Z", 10),
        msg.relation(7, "public", "pacientes", PACIENTES),
      ]),
    );
    expect(r).toEqual({ transactions: [], incomplete: true });
  });

  it("records a TRUNCATE by relation name", () => {
    const { transactions } = assembleTransactions(
      decode([
        msg.begin("0/100", "2026-01-01T10:00:00Z", 10),
        msg.relation(7, "public", "pacientes", PACIENTES),
        msg.truncate([7], 0),
        msg.commit("0/100", "0/130", "2026-01-01T10:00:00Z"),
      ]),
    );
    expect(transactions[0]!.truncated).toEqual(["public.pacientes"]);
  });

  it("refuses a change for an undescribed relation and changes outside a transaction", () => {
    expect(() =>
      assembleTransactions(decode([msg.begin("0/1", "2026-01-01T00:00:00Z", 1), msg.insert(9, [ID])])),
    ).toThrow(/relation 9 before its Relation message/);
    expect(() =>
      assembleTransactions(
        decode([msg.relation(7, "public", "pacientes", PACIENTES), msg.insert(7, [ID, "a", "t", null])]),
      ),
    ).toThrow(/outside a transaction/);
    expect(() =>
      assembleTransactions(
        decode([msg.begin("0/1", "2026-01-01T00:00:00Z", 1), msg.begin("0/2", "2026-01-01T00:00:00Z", 2)]),
      ),
    ).toThrow(/inside xid 1/);
  });

  it("tupleToRecord refuses a tuple that does not fit its relation", () => {
    const rel = decodePgoutput(msg.relation(7, "public", "pacientes", PACIENTES)) as RelationMessage;
    expect(() => tupleToRecord(rel, [ID])).toThrow(/1 columns/);
  });
});
