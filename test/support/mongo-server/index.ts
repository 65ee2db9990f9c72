import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Document } from "bson";
import { Storage } from "./commands.js";
import { CommandError } from "./query.js";
import { decodeRequest, encodeReply, FrameReader, type Request } from "./wire.js";

export { CommandError } from "./query.js";

/**
 * A small MongoDB server for tests, in this process: the wire protocol (OP_MSG, and OP_QUERY for the
 * driver's first `isMaster`), the handshake, and the CRUD commands the Node driver and connect-mongo send,
 * over in-memory collections. It exists because mongod cannot be installed on the machines that run
 * these tests; set MONGODB_URI to run the same tests against a real MongoDB (see ./target.ts).
 *
 * Not emulated: authentication, replica sets, transactions, sort, aggregation, and the TTL monitor (an
 * expired document stays until something deletes it, as on a real server between two monitor passes).
 */
export interface MongoTestServer {
  readonly host: string;
  readonly port: number;
  /** `mongodb://127.0.0.1:<port>/<db>`. */
  uri(db?: string): string;
  /** Stops listening and drops every connection (the data stays, as on a real server's disk). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /**
   * Withholds the replies to commands named `command`, or to every command (the handshake included) when
   * none is named, until the returned function is called: the requests are received and executed, the
   * answers wait. A server that has stopped answering, or a network that drops packets.
   */
  stall(command?: string): () => void;
  /** The stored documents of a collection, decoded (to inspect what a client wrote). */
  documents(db: string, collection: string): Document[];
  /** Commands received, in order: name and database (the handshake included). */
  readonly received: ReadonlyArray<{ name: string; db: string }>;
  /** Empties every database. */
  clear(): void;
}

export interface MongoTestServerOptions {
  /** Port to listen on (default: a free one). */
  port?: number;
  /** Logs every command and protocol failure to stderr (default: MONGO_TEST_SERVER_DEBUG=1). */
  debug?: boolean;
}

const HOST = "127.0.0.1";
const MAX_RECEIVED = 10_000; // keep the command log bounded in long test files
const ALL = "\0all"; // no command has this name

export async function startMongoServer(options: MongoTestServerOptions = {}): Promise<MongoTestServer> {
  const debug = options.debug ?? process.env.MONGO_TEST_SERVER_DEBUG === "1";
  const log = (line: string): void => {
    if (debug) console.error(`[mongo-test-server] ${line}`);
  };
  const storage = new Storage();
  const sockets = new Set<Socket>();
  const stalled = new Map<string, Array<() => void>>();
  const received: Array<{ name: string; db: string }> = [];
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnection = 1;
  let nextRequest = 1;
  let server: Server | undefined;
  let port = options.port ?? 0;

  function respond(socket: Socket, request: Request): void {
    const name = Object.keys(request.body)[0] ?? "";
    received.push({ name, db: request.db });
    if (received.length > MAX_RECEIVED) received.splice(0, received.length - MAX_RECEIVED);
    let reply: Document;
    try {
      reply = storage.run(name, { db: request.db, body: request.body, connectionId: connectionIds.get(socket) ?? 0 });
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      if (!storage.knows(name))
        log(`unknown command ${JSON.stringify(name)} in ${request.db}: answered CommandNotFound`);
      reply = { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName };
    }
    log(`${request.db}.${name} -> ${reply.ok === 1 ? "ok" : `error ${String(reply.code)}`}`);
    if (request.noReply) return;
    const send = (): void => {
      if (!socket.destroyed) socket.write(encodeReply(request, nextRequest++, reply));
    };
    const held = stalled.get(name) ?? stalled.get(ALL);
    if (held !== undefined) held.push(send);
    else send();
  }

  function accept(socket: Socket): void {
    sockets.add(socket);
    connectionIds.set(socket, nextConnection++);
    const reader = new FrameReader();
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) respond(socket, decodeRequest(frame));
      } catch (error) {
        // A message the server cannot read: drop the connection, as mongod does.
        log(`closing connection ${connectionIds.get(socket)}: ${(error as Error).message}`);
        socket.destroy();
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  }

  async function start(): Promise<void> {
    if (server !== undefined) return;
    const listening = createServer(accept);
    listening.listen(port, HOST);
    await once(listening, "listening");
    port = (listening.address() as { port: number }).port;
    server = listening;
    log(`listening on ${HOST}:${port}`);
  }

  async function stop(): Promise<void> {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    const closed = new Promise<void>((resolve) => running.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closed;
    log("stopped");
  }

  await start();
  process.once("exit", () => {
    for (const socket of sockets) socket.destroy();
  });
  return {
    host: HOST,
    get port() {
      return port;
    },
    uri: (db = "test") => `mongodb://${HOST}:${port}/${db}`,
    stop,
    start,
    stall(command = ALL) {
      const held: Array<() => void> = [];
      stalled.set(command, held);
      return () => {
        if (stalled.get(command) === held) stalled.delete(command);
        for (const send of held.splice(0)) send();
      };
    },
    documents: (db, collection) => storage.documents(db, collection),
    received,
    clear: () => storage.clear(),
  };
}
