import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect as tcpConnect, createServer, type Server, type Socket } from "node:net";
import { MongoClient } from "mongodb";
import { startMongoServer, type MongoTestServer } from "./index.js";

// The one switch between the in-process test server and a real MongoDB. Every Mongo integration test gets
// its server from here: with MONGODB_URI set (say mongodb://127.0.0.1:27017) the same tests run against
// that MongoDB; without it, against ./index.ts.

const EXTERNAL_URI = process.env.MONGODB_URI === "" ? undefined : process.env.MONGODB_URI;

/** True when the tests run against the MongoDB of MONGODB_URI. */
export const MONGO_TARGET_EXTERNAL = EXTERNAL_URI !== undefined;

/** Which MongoDB the tests talk to, for test names and logs (never the URI itself: it may hold a password). */
export const MONGO_TARGET_LABEL =
  EXTERNAL_URI === undefined ? "in-process wire-protocol test server" : "real MongoDB from MONGODB_URI";

/** Something that can cut its clients off the server and let them back: the test server, or a proxy. */
export interface Interruptible {
  /** The connection string to give the client that should be cut off. */
  uri: string;
  /** Refuses new connections and drops the open ones. */
  stop(): Promise<void>;
  /** Accepts connections again, on the same port. */
  start(): Promise<void>;
}

export interface MongoTarget {
  readonly label: string;
  /** True against a real MongoDB. */
  readonly external: boolean;
  /** The in-process server, when it is the target. */
  readonly server: MongoTestServer | undefined;
  /** A connection string for a database of this target (`newDatabase()` names a fresh one). */
  uri(db: string): string;
  /** A fresh database name, dropped by close(). */
  newDatabase(): string;
  /**
   * A route to the server that an outage test can cut: the test server itself, or, against a real
   * MongoDB, a TCP proxy in front of it. Undefined when the URI cannot be proxied (SRV, several hosts,
   * TLS): those tests then say so and skip.
   */
  interruptible(db: string): Promise<Interruptible | undefined>;
  /** Drops the databases it named and stops what it started. */
  close(): Promise<void>;
}

/** Why outage tests cannot run against MONGODB_URI, or undefined when they can (always, in process). */
export function outageUnsupported(): string | undefined {
  if (EXTERNAL_URI === undefined) return undefined;
  const parsed = parse(EXTERNAL_URI);
  return typeof parsed === "string" ? parsed : undefined;
}

interface ParsedUri {
  credentials: string;
  host: string;
  port: number;
  options: URLSearchParams;
}

function parse(uri: string): ParsedUri | string {
  const match = /^mongodb:\/\/(?:([^@/]*)@)?([^/?]+)\/?[^?]*(?:\?(.*))?$/.exec(uri);
  if (match === null)
    return "the outage tests proxy a mongodb:// URI; MONGODB_URI is not one (mongodb+srv:// cannot be proxied)";
  const hosts = match[2]!.split(",");
  if (hosts.length !== 1) return "the outage tests proxy a single host; MONGODB_URI names several";
  const options = new URLSearchParams(match[3] ?? "");
  if (options.get("tls") === "true" || options.get("ssl") === "true")
    return "the outage tests cannot proxy TLS (the certificate names the real host)";
  const [host, port] = hosts[0]!.startsWith("[")
    ? [hosts[0]!.slice(1, hosts[0]!.indexOf("]")), hosts[0]!.split("]:")[1]]
    : hosts[0]!.split(":");
  return {
    credentials: match[1] === undefined ? "" : `${match[1]}@`,
    host: host!,
    port: Number(port ?? 27017),
    options,
  };
}

function withDatabase(uri: string, db: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?[^?]*(\?.*)?$/.exec(uri);
  if (match === null) throw new Error("MONGODB_URI is not a mongodb:// or mongodb+srv:// connection string");
  return `${match[1]}/${db}${match[2] ?? ""}`;
}

/** A TCP proxy on 127.0.0.1 in front of host:port, which can be stopped and started on the same port. */
async function startProxy(
  host: string,
  port: number,
): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const start = async (): Promise<void> => {
    if (server !== undefined) return;
    const listening = createServer((client) => {
      const upstream = tcpConnect(port, host);
      track(client);
      track(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    listening.listen(listenPort, "127.0.0.1");
    await once(listening, "listening");
    listenPort = (listening.address() as { port: number }).port;
    server = listening;
  };
  const stop = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    const closed = new Promise<void>((resolve) => running.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await start();
  return { port: listenPort, start, stop };
}

/** Starts the target for one test file: the in-process server, or a handle on MONGODB_URI. */
export async function startMongoTarget(): Promise<MongoTarget> {
  const databases: string[] = [];
  const proxies: Array<{ stop(): Promise<void> }> = [];
  const newDatabase = (): string => {
    const name = `sioauth_test_${randomBytes(6).toString("hex")}`;
    databases.push(name);
    return name;
  };

  if (EXTERNAL_URI === undefined) {
    const server = await startMongoServer();
    return {
      label: MONGO_TARGET_LABEL,
      external: false,
      server,
      uri: (db) => server.uri(db),
      newDatabase,
      interruptible: async (db) => ({ uri: server.uri(db), stop: server.stop, start: server.start }),
      close: () => server.stop(),
    };
  }

  const external = EXTERNAL_URI;
  return {
    label: MONGO_TARGET_LABEL,
    external: true,
    server: undefined,
    uri: (db) => withDatabase(external, db),
    newDatabase,
    async interruptible(db) {
      const parsed = parse(external);
      if (typeof parsed === "string") return undefined;
      const proxy = await startProxy(parsed.host, parsed.port);
      proxies.push(proxy);
      // Straight to the one server behind the proxy: no discovery of replica set members by their names.
      parsed.options.set("directConnection", "true");
      return {
        uri: `mongodb://${parsed.credentials}127.0.0.1:${proxy.port}/${db}?${parsed.options}`,
        stop: proxy.stop,
        start: proxy.start,
      };
    },
    async close() {
      for (const proxy of proxies) await proxy.stop();
      const client = new MongoClient(external, { serverSelectionTimeoutMS: 5000 });
      try {
        for (const name of databases) await client.db(name).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}
