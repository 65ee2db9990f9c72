import session, { type SessionData as ExpressSessionData } from "express-session";
import createMemoryStore from "memorystore";
import { afterEach, describe, expect, it } from "vitest";
import { sessionAuth, type SessionAuthError } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { describeSessionStore } from "socket.io-session-auth/testing";
import { ask, connect, refusal, startRealtime } from "../../support/realtime.js";
import { startWebApp } from "../../support/web-app.js";

type Callback = (err: unknown, session?: ExpressSessionData | null) => void;
type Done = (err?: unknown) => void;
const MemoryStore = createMemoryStore(session);

/** A store that answers through the callback before returning (no deferral at all). */
class SynchronousStore extends session.Store {
  sessions = new Map<string, string>();
  get(sid: string, callback: Callback) {
    const raw = this.sessions.get(sid);
    callback(null, raw === undefined ? null : JSON.parse(raw));
  }
  set(sid: string, value: ExpressSessionData, callback?: Done) {
    this.sessions.set(sid, JSON.stringify(value));
    callback?.();
  }
  destroy(sid: string, callback?: Done) {
    this.sessions.delete(sid);
    callback?.();
  }
}

/**
 * A hand-rolled store whose get() returns the session and never calls back. express-session itself could
 * not use it, but an app may share such an object with its own code; the adapter reads the return value.
 */
class ReturningStore extends SynchronousStore {
  override get(sid: string): never {
    const raw = this.sessions.get(sid);
    return (raw === undefined ? null : JSON.parse(raw)) as never;
  }
}

/** A callback-only store that answers later, on a timer, like one backed by a remote service. */
class CallbackStore extends SynchronousStore {
  override get(sid: string, callback: Callback) {
    setTimeout(() => super.get(sid, callback), 5);
  }
}

/** session-file-store's habit: a missing session is an ENOENT error, not (null, undefined). */
class EnoentStore extends SynchronousStore {
  override get(sid: string, callback: Callback) {
    if (!this.sessions.has(sid)) {
      setImmediate(() =>
        callback(
          Object.assign(new Error(`ENOENT: no such file or directory, open 'sessions/${sid}.json'`), {
            code: "ENOENT",
          }),
        ),
      );
      return;
    }
    super.get(sid, callback);
  }
}

const closers: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of closers.splice(0).reverse()) await each.close();
});

const sample = (expires: Date) => ({
  cookie: { originalMaxAge: 60_000, expires: expires.toISOString(), httpOnly: true, path: "/" },
});
const callbackSet = (store: session.Store, id: string, value: object) =>
  new Promise<void>((resolve, reject) =>
    store.set(id, value as ExpressSessionData, (err?: unknown) => (err ? reject(err) : resolve())),
  );

describeSessionStore(
  "memory adapter over express-session's MemoryStore",
  () => {
    const handle = new session.MemoryStore();
    return {
      store: memoryStore(handle),
      write: (id, value, options) =>
        callbackSet(handle, id, options?.expires ? { ...value, ...sample(options.expires) } : value),
      // MemoryStore parses inside get() and throws: an unreadable session, not an outage.
      writeCorrupt: async (id) =>
        void ((handle as unknown as { sessions: Record<string, string> }).sessions[id] = "{not json"),
    };
  },
  // MemoryStore deletes an expired session on get and reports a miss.
  { capabilities: { expiry: "null", expires: true, compareAndSet: true } },
);

describeSessionStore(
  "memory adapter over memorystore",
  () => {
    const handle = new MemoryStore({ checkPeriod: 60_000 });
    return {
      store: memoryStore(handle),
      write: (id, value, options) => {
        if (options?.expires === undefined) return callbackSet(handle, id, value);
        // memorystore takes the entry's LRU age from cookie.maxAge (what express-session's Cookie exposes).
        const maxAge = options.expires.getTime() - Date.now();
        return callbackSet(handle, id, {
          ...value,
          cookie: { originalMaxAge: maxAge, maxAge, expires: options.expires, path: "/" },
        });
      },
      teardown: async () => handle.stopInterval(),
    };
  },
  // The LRU decides expiry: an entry past its age is a miss.
  { capabilities: { expiry: "null", expires: true, compareAndSet: true } },
);

for (const [label, Store] of [
  ["a synchronous store", SynchronousStore],
  ["a store that returns instead of calling back", ReturningStore],
  ["a callback-only store that answers later", CallbackStore],
  ["a store that reports a miss as ENOENT", EnoentStore],
] as const) {
  describeSessionStore(
    `memory adapter over ${label}`,
    () => {
      const handle = new Store();
      return {
        store: memoryStore(handle),
        write: (id, value) => callbackSet(handle, id, value),
        writeCorrupt: async (id) => void handle.sessions.set(id, '"just a string"'),
      };
    },
    { capabilities: { expiry: false } },
  );
}

describe("memory adapter with real express-session over HTTP", () => {
  it.each([
    ["memorystore", () => new MemoryStore({ checkPeriod: 60_000 })],
    ["a synchronous store", () => new SynchronousStore()],
    ["a callback-only store", () => new CallbackStore()],
    ["an ENOENT-reporting store", () => new EnoentStore()],
  ] as const)("%s: login connects, logout refuses with SESSION_NOT_FOUND", async (_label, make) => {
    const store = make();
    closers.push({ close: () => (store as { stopInterval?: () => void }).stopInterval?.() });
    const web = await startWebApp({ store });
    closers.push(web);
    const errors: SessionAuthError[] = [];
    // Each handshake reads this store (by default a followed session's recent read is shared instead,
    // and a logout over HTTP then reaches a new tab through endSession: test/integration/shared-reads.test.ts).
    const auth = sessionAuth({
      store: memoryStore(store),
      secret: "keyboard cat",
      sharedReadMaxAge: false,
      onError: (e) => errors.push(e),
    });
    const realtime = await startRealtime((io) => {
      io.use(auth);
      io.on("connection", (socket) => socket.on("who", (ack: (v: unknown) => void) => ack(socket.data.userId)));
    });
    closers.push(realtime);
    const cookie = await web.login({ id: "u-1" });
    const socket = await connect(realtime.url, { cookie });
    closers.push(socket);
    expect(await ask(socket, "who")).toBe("u-1");
    await web.logout(cookie);
    expect((await refusal(realtime.url, { cookie })).message).toBe("SESSION_NOT_FOUND");
    expect(errors.map((e) => e.code)).toEqual(["SESSION_NOT_FOUND"]);
  });

  it("MemoryStore's own expiry (cookie.expires) ends the socket's access", async () => {
    const web = await startWebApp({ maxAge: 300 });
    closers.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: "keyboard cat" });
    const realtime = await startRealtime((io) => void io.use(auth));
    closers.push(realtime);
    const cookie = await web.login({ id: 1 });
    const socket = await connect(realtime.url, { cookie });
    socket.close();
    await new Promise((resolve) => setTimeout(resolve, 400)); // the session's own 300 ms lifetime
    expect((await refusal(realtime.url, { cookie })).message).toBe("SESSION_NOT_FOUND");
  });

  it("tells a wrong handle apart at construction", () => {
    expect(() => memoryStore({} as never)).toThrow(/pass the express-session store object/);
    expect(() => memoryStore(null as never)).toThrow(TypeError);
  });
});
