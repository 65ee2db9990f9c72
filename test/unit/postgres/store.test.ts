import { readFileSync } from "node:fs";
import connectPgSimple from "connect-pg-simple";
import session from "express-session";
import knex from "knex";
import pg from "pg";
import { Sequelize } from "sequelize";
import { afterAll, describe, expect, it } from "vitest";
import { postgresStore, postgresTriggerSql } from "socket.io-session-auth/postgres";

// What postgresStore refuses when it is built, with real driver objects that never connect: no
// PostgreSQL needed (nothing here sends a query; pg and knex connect lazily, Sequelize too).

const config = { host: "127.0.0.1", port: 1, user: "nobody", database: "none" };
const pool = new pg.Pool(config);
const client = new pg.Client(config);
const knexInstance = knex({ client: "pg", connection: config });
const sequelize = new Sequelize("postgres://nobody@127.0.0.1:1/none", { logging: false });

afterAll(async () => {
  await pool.end();
  await knexInstance.destroy();
  await sequelize.close();
});

describe("postgresStore options", () => {
  it("takes a pg.Pool and a pg.Client, and has subscribe and compareAndSet", () => {
    const fromPool = postgresStore({ pool });
    expect(fromPool.name).toBe("postgres");
    expect(typeof fromPool.compareAndSet).toBe("function");
    expect(typeof fromPool.subscribe).toBe("function");
    expect("set" in fromPool).toBe(false);
    expect("destroy" in fromPool).toBe(false);
    expect(typeof postgresStore({ pool: client }).get).toBe("function");
  });

  it("`listen: false` has no subscribe", () => {
    expect(postgresStore({ pool, listen: false }).subscribe).toBeUndefined();
  });

  it.each([
    ["a Knex instance", () => knexInstance, /Knex instance.*new pg\.Pool/],
    ["a Sequelize instance", () => sequelize, /Sequelize instance.*new pg\.Pool/],
    ["a connection string", () => "postgres://localhost/app", /connection string is not a pool.*connectionString/],
    [
      "a connection config",
      () => ({ connectionString: "postgres://localhost/app" }),
      /connection config.*new pg\.Pool\(config\)/,
    ],
    [
      "connect-pg-simple's store",
      () => new (connectPgSimple(session))({ pool }),
      /session store.*the `pool` it was given/,
    ],
    ["a promise", () => Promise.resolve(pool), /promise.*await it/],
    ["pg itself", () => pg, /node-postgres Pool/],
    ["nothing", () => undefined, /`pool` is required/],
  ])("refuses %s as the pool, naming what to pass", (_label, given, message) => {
    expect(() => postgresStore({ pool: given() as never })).toThrow(TypeError);
    expect(() => postgresStore({ pool: given() as never })).toThrow(message);
  });

  it.each([
    [{ tableName: "" }, /`tableName` must be a nonempty string/],
    [{ tableName: 7 }, /`tableName` must be a nonempty string.*a number/],
    [{ schemaName: "" }, /`schemaName` must be a nonempty string/],
    [{ tableName: "a\0b" }, /NUL/],
    [{ tableName: "x".repeat(64) }, /longer than 63 bytes/],
    [{ tableName: 'app"."session' }, /pass `schemaName` and `tableName` apart/],
    [{ listen: "yes" }, /`listen` must be true or false/],
    [{ conString: "postgres://localhost" }, /unknown option `conString`: create `new pg\.Pool/],
    [{ table: "session" }, /did you mean `tableName`/],
    [{ ttl: 60 }, /already in each row's `expire`/],
  ])("refuses %o", (options, message) => {
    expect(() => postgresStore({ pool, ...(options as object) })).toThrow(TypeError);
    expect(() => postgresStore({ pool, ...(options as object) })).toThrow(message);
  });

  it("takes any other name as PostgreSQL quotes it (quotes doubled), as connect-pg-simple does", () => {
    expect(() => postgresStore({ pool, tableName: 'we"ird name', schemaName: "Ünï" })).not.toThrow();
  });
});

describe("postgresTriggerSql", () => {
  it("targets connect-pg-simple's default table, or the names given, quoted", () => {
    expect(postgresTriggerSql()).toContain('AFTER DELETE OR UPDATE OF expire ON "session"');
    const custom = postgresTriggerSql({ schemaName: "app", tableName: 'we"ird' });
    expect(custom).toContain('ON "app"."we""ird"');
    expect(custom).toContain('CREATE OR REPLACE FUNCTION "app".socket_io_session_auth_notify()');
  });

  it("is, for the defaults, the trigger half of docs/postgres.md's schema.sql, word for word", () => {
    const page = readFileSync(new URL("../../../docs/postgres.md", import.meta.url), "utf8");
    expect(page).toContain(postgresTriggerSql());
  });
});
