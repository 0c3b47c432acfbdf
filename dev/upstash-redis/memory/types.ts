import type { Reply } from "../reply";
import type { Db } from "./db";

/** What a command runs with: the keyspace plus the store-level services scripting needs. */
export interface Ctx {
  db: Db;
  /** Runs another command inside the same atomic step (used by scripts). */
  call(args: string[]): Reply;
  scripts: Map<string, string>;
}

/** One command: Redis' arity (counting the name; negative = at least), and its implementation
 * over the arguments after the name. Handlers throw RedisError for error replies. */
export interface CommandSpec {
  arity: number;
  run(ctx: Ctx, args: string[]): Reply;
}

export type CommandTable = Record<string, CommandSpec>;
