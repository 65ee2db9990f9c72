import type { IncomingMessage } from "node:http";
import session from "express-session";
import { Server } from "socket.io";
import { afterEach, describe, expect, it } from "vitest";
import {
  sessionAuth,
  sessionRoom,
  type SessionAuthError,
  type SessionAuthOptions,
  type SessionStore,
} from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";
import { ask, connect, refusal, serveWhoami, startRealtime, type Realtime } from "../../support/realtime.js";
import { captureWarnings } from "../../support/warnings.js";
import { startWebApp, sessionIdOf } from "../../support/web-app.js";

const SECRET = "keyboard cat";
const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const each of opened.splice(0).reverse()) await each.close();
});

/** Counts store lookups: the figure the "one lookup per connection" promise is about. */
function counting<S extends object>(store: SessionStore<S>): SessionStore<S> & { gets: number } {
  const counted = {
    ...store,
    gets: 0,
    get(id: string, options: Parameters<SessionStore<S>["get"]>[1]) {
      counted.gets++;
      return store.get(id, options);
    },
  };
  return counted;
}

async function setup(options: {
  express?: 4 | 5;
  web?: Parameters<typeof startWebApp>[0];
  auth?: Partial<SessionAuthOptions>;
  engine?: boolean;
  io?: ConstructorParameters<typeof Server>[1];
}) {
  const web = await startWebApp({ express: options.express, ...options.web });
  opened.push(web);
  const store = counting(memoryStore(web.store));
  const errors: SessionAuthError[] = [];
  const auth = sessionAuth({ store, secret: SECRET, onError: (error) => errors.push(error), ...options.auth });
  const realtime: Realtime = await startRealtime(
    (io) => {
      io.use(auth);
      serveWhoami(io, (socket) => ({ data: Object.keys(socket.data) }));
    },
    { ...(options.engine ? { allowRequest: auth.allowRequest } : {}), ...options.io },
  );
  opened.push(realtime);
  return { web, store, auth, realtime, errors };
}

describe.each([4, 5] as const)("express %i + express-session + MemoryStore", (express) => {
  describe.each([
    ["websocket only", { transports: ["websocket"] }],
    ["polling, then upgrade", { transports: ["polling", "websocket"] }],
  ] satisfies Array<[string, { transports: Array<"polling" | "websocket"> }]>)("%s", (_label, transport) => {
    it("connects a logged-in user, with the session, the user id and the rooms", async () => {
      const { web, realtime, errors } = await setup({ express });
      const cookie = await web.login({ id: 42, name: "alice" });
      const socket = await connect(realtime.url, { cookie, ...transport });
      opened.push(socket);
      const me = await ask<{ userId: string; user: unknown; rooms: string[]; data: string[] }>(socket, "whoami");
      expect(me.userId).toBe("42");
      expect(me.user).toEqual({ id: 42, name: "alice" });
      const sid = sessionIdOf(cookie);
      expect(me.rooms.sort()).toEqual(["user:42", sessionRoom(sid)].sort());
      expect(me.data.sort()).toEqual(["session", "userId"]);
      expect(JSON.stringify(me)).not.toContain(sid);
      expect(errors).toEqual([]);
    });

    it("refuses the socket after logout with SESSION_NOT_FOUND", async () => {
      const { web, realtime } = await setup({ express });
      const cookie = await web.login({ id: 7 });
      const socket = await connect(realtime.url, { cookie, ...transport });
      socket.close();
      await web.logout(cookie);
      const failure = await refusal(realtime.url, { cookie, ...transport });
      expect(failure).toEqual({
        message: "SESSION_NOT_FOUND",
        data: { code: "SESSION_NOT_FOUND", retryable: false },
        type: undefined,
      });
    });

    it("does one store lookup per connection when allowRequest is wired too", async () => {
      const { web, realtime, store } = await setup({ express, engine: true });
      const cookie = await web.login({ id: 1 });
      const socket = await connect(realtime.url, { cookie, ...transport });
      opened.push(socket);
      expect((await ask<{ userId: string }>(socket, "whoami")).userId).toBe("1");
      expect(store.gets).toBe(1);
    });
  });

  it("accepts a cookie signed by an older secret of the list (rotation) and says which one", async () => {
    const { web, realtime, auth } = await setup({
      express,
      web: { secret: "old secret" },
      auth: { secret: ["new secret", "old secret"] },
    });
    const cookie = await web.login({ id: 5 });
    const socket = await connect(realtime.url, { cookie });
    opened.push(socket);
    const result = await auth.authenticate({ headers: { cookie } } as IncomingMessage);
    expect(result.secretIndex).toBe(1);
    expect(result.userId).toBe("5");
  });
});

describe("refusals: the client sees the code and nothing else", () => {
  const expectCode = (failure: { message: string; data: unknown }, code: string, retryable = false) =>
    expect(failure).toMatchObject({ message: code, data: { code, retryable } });

  it("NO_SESSION_COOKIE, and the server learns which cookies were there", async () => {
    const { realtime, errors } = await setup({});
    expectCode(await refusal(realtime.url, { cookie: "theme=dark; io=abc" }), "NO_SESSION_COOKIE");
    expectCode(await refusal(realtime.url), "NO_SESSION_COOKIE");
    expect(errors[0]!.message).toContain('"theme", "io"');
    expect(errors[1]!.message).toContain("no Cookie header");
  });

  it("MALFORMED_COOKIE for an unsigned value", async () => {
    const { realtime } = await setup({});
    expectCode(await refusal(realtime.url, { cookie: "connect.sid=plainvalue" }), "MALFORMED_COOKIE");
    expectCode(await refusal(realtime.url, { cookie: "connect.sid=s%3Anodot" }), "MALFORMED_COOKIE");
    expectCode(await refusal(realtime.url, { cookie: "connect.sid=s%3A%E0%A4%A.x" }), "MALFORMED_COOKIE");
  });

  it("BAD_SIGNATURE for a tampered signature or id, and for a removed secret, before any store lookup", async () => {
    const { web, realtime, store, errors } = await setup({ auth: { secret: "another secret" } });
    const cookie = await web.login({ id: 1 });
    expectCode(await refusal(realtime.url, { cookie }), "BAD_SIGNATURE");
    const [name, value] = cookie.split("=") as [string, string];
    const decoded = decodeURIComponent(value);
    const flipped = decoded.slice(0, -1) + (decoded.endsWith("A") ? "B" : "A");
    expectCode(await refusal(realtime.url, { cookie: `${name}=${encodeURIComponent(flipped)}` }), "BAD_SIGNATURE");
    const otherId = "s:" + "x".repeat(32) + decoded.slice(decoded.lastIndexOf("."));
    expectCode(await refusal(realtime.url, { cookie: `${name}=${encodeURIComponent(otherId)}` }), "BAD_SIGNATURE");
    expect(store.gets).toBe(0);
    const sid = decoded.slice(2, decoded.lastIndexOf("."));
    for (const error of errors) {
      expect(error.message).not.toContain(sid);
      expect(error.message).not.toContain("another secret");
    }
  });

  it("UNAUTHENTICATED for a session with no user; allowAnonymous lets it in with userId null", async () => {
    const closed = await setup({});
    const cookie = await closed.web.visit({ cart: [1, 2] });
    expectCode(await refusal(closed.realtime.url, { cookie }), "UNAUTHENTICATED");

    const open = await setup({ auth: { allowAnonymous: true } });
    const anonymous = await open.web.visit({ cart: [3] });
    const socket = await connect(open.realtime.url, { cookie: anonymous });
    opened.push(socket);
    const me = await ask<{ userId: unknown; rooms: string[] }>(socket, "whoami");
    expect(me.userId).toBeNull();
    expect(me.rooms).toHaveLength(1);
    expect(me.rooms[0]).toMatch(/^session:[0-9a-f]{32}$/);
  });

  it("FORBIDDEN when authorize says no (or throws), with the context it needs", async () => {
    const seen: unknown[] = [];
    const { web, realtime } = await setup({
      auth: {
        authorize: ({ userId, session, handshake }) => {
          seen.push({
            userId,
            user: (session as { user?: unknown }).user,
            hasHeaders: typeof handshake.headers === "object",
          });
          if (userId === "13") throw new Error("boom");
          return userId === "1";
        },
      },
    });
    const admin = await connect(realtime.url, { cookie: await web.login({ id: 1 }) });
    opened.push(admin);
    expectCode(await refusal(realtime.url, { cookie: await web.login({ id: 2 }) }), "FORBIDDEN");
    expectCode(await refusal(realtime.url, { cookie: await web.login({ id: 13 }) }), "FORBIDDEN");
    expect(seen[0]).toEqual({ userId: "1", user: { id: 1 }, hasHeaders: true });
  });

  it("ORIGIN_NOT_ALLOWED for a cross-site page; the same host and non-browser clients pass", async () => {
    const { web, realtime } = await setup({});
    const cookie = await web.login({ id: 9 });
    expectCode(await refusal(realtime.url, { cookie, origin: "https://evil.example" }), "ORIGIN_NOT_ALLOWED");
    expectCode(await refusal(realtime.url, { cookie, origin: "null" }), "ORIGIN_NOT_ALLOWED");
    const sameSite = await connect(realtime.url, { cookie, origin: realtime.url });
    const noOrigin = await connect(realtime.url, { cookie });
    opened.push(sameSite, noOrigin);
  });

  it("an origins list admits exactly those pages", async () => {
    const warnings = captureWarnings();
    const { web, realtime } = await setup({ auth: { origins: ["https://app.example.com"] } });
    const cookie = await web.login({ id: 9 });
    opened.push(await connect(realtime.url, { cookie, origin: "https://app.example.com" }));
    expectCode(await refusal(realtime.url, { cookie, origin: realtime.url }), "ORIGIN_NOT_ALLOWED");
    // socket.io's cors is left unset here: at its first handshake sessionAuth says those pages cannot poll.
    expect(warnings.codes()).toEqual(["SOCKET_IO_SESSION_AUTH_CORS"]);
  });

  it("an origins function may be async; one that throws or rejects refuses", async () => {
    const asyncYes = await setup({ auth: { origins: async (origin) => origin === "https://app.example.com" } });
    const cookie = await asyncYes.web.login({ id: 9 });
    opened.push(await connect(asyncYes.realtime.url, { cookie, origin: "https://app.example.com" }));
    expectCode(await refusal(asyncYes.realtime.url, { cookie, origin: "https://other.example" }), "ORIGIN_NOT_ALLOWED");
    for (const origins of [
      () => {
        throw new Error("boom");
      },
      async () => {
        throw new Error("boom");
      },
    ]) {
      const broken = await setup({ auth: { origins } });
      expectCode(
        await refusal(broken.realtime.url, { cookie: await broken.web.login({ id: 9 }) }),
        "ORIGIN_NOT_ALLOWED",
      );
      expect(broken.errors[0]!.cause).toBeInstanceOf(Error);
    }
  });

  it("SESSION_EXPIRED when the store's record has expired", async () => {
    const expiredStore: SessionStore = {
      name: "expired",
      get: async () => ({ session: { user: { id: 1 } }, expires: new Date(Date.now() - 1) }),
    };
    const { realtime } = await setup({ auth: { store: expiredStore } });
    const cookie = `connect.sid=${encodeURIComponent(`s:${(await import("cookie-signature")).sign("abc", SECRET)}`)}`;
    expectCode(await refusal(realtime.url, { cookie }), "SESSION_EXPIRED");
    // A JavaScript adapter may hand back a string or a number; an unreadable value fails closed.
    for (const expires of ["2000-01-01T00:00:00Z", 946_684_800_000, "not a date", {}]) {
      const loose: SessionStore = {
        name: "loose",
        get: async () => ({ session: { user: { id: 1 } }, expires: expires as Date }),
      };
      const { realtime: other } = await setup({ auth: { store: loose } });
      expectCode(await refusal(other.url, { cookie }), "SESSION_EXPIRED");
    }
  });

  it("STORE_UNAVAILABLE (retryable) when the store fails or does not answer in time", async () => {
    const { sign } = await import("cookie-signature");
    const cookie = `connect.sid=${encodeURIComponent(`s:${sign("abc", SECRET)}`)}`;
    let signal: AbortSignal | undefined;
    const silent: SessionStore = {
      name: "silent",
      get: (_id, options) => ((signal = options.signal), new Promise(() => {})),
    };
    const failing: SessionStore = {
      name: "failing",
      get: async () => {
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1 key=abc"), { code: "ECONNREFUSED" });
      },
    };
    const slow = await setup({ auth: { store: silent, timeout: 100 } });
    const started = Date.now();
    expectCode(await refusal(slow.realtime.url, { cookie }), "STORE_UNAVAILABLE", true);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(signal?.aborted).toBe(true);

    const down = await setup({ auth: { store: failing } });
    expectCode(await refusal(down.realtime.url, { cookie }), "STORE_UNAVAILABLE", true);
    expect(down.errors[0]!.message).toContain("ECONNREFUSED");
    expect(down.errors[0]!.message).not.toContain("key=abc");
    expect((down.errors[0]!.cause as Error).message).toContain("key=abc");
  });
});

describe("allowRequest refuses below socket.io", () => {
  it("answers the engine handshake with 403 and the code, for polling and websocket", async () => {
    const { realtime, store } = await setup({ engine: true });
    const res = await fetch(`${realtime.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { cookie: "connect.sid=s%3Aabc.def" },
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ message: "BAD_SIGNATURE" });
    const failure = await refusal(realtime.url, { cookie: "connect.sid=s%3Aabc.def", transports: ["websocket"] });
    expect(failure.message).toBe("websocket error");
    expect(store.gets).toBe(0);
  });
});

describe("namespaces", () => {
  it("with allowRequest, one lookup serves every namespace the connection joins", async () => {
    const { web, realtime, store, auth } = await setup({ engine: true });
    realtime.io.of("/admin").use(auth);
    const cookie = await web.login({ id: 8 });
    const main = await connect(realtime.url, { cookie, forceNew: false, multiplex: true });
    const admin = await connect(realtime.url, { cookie, namespace: "/admin", forceNew: false, multiplex: true });
    opened.push(main, admin);
    expect(main.io).toBe(admin.io);
    expect(store.gets).toBe(1);
  });

  it("works on any namespace, the root one left open", async () => {
    const web = await startWebApp();
    opened.push(web);
    const auth = sessionAuth({ store: memoryStore(web.store), secret: SECRET });
    const realtime = await startRealtime((io) => {
      io.of("/admin")
        .use(auth)
        .on("connection", (socket) => socket.on("who", (ack: (v: unknown) => void) => ack(socket.data.userId)));
    });
    opened.push(realtime);
    opened.push(await connect(realtime.url));
    const failure = await refusal(realtime.url, { namespace: "/admin" });
    expect(failure.message).toBe("NO_SESSION_COOKIE");
    const admin = await connect(realtime.url, { namespace: "/admin", cookie: await web.login({ id: 3 }) });
    opened.push(admin);
    expect(await ask(admin, "who")).toBe("3");
  });
});

describe("connectionStateRecovery", () => {
  async function recoverySetup(engine: boolean) {
    const warnings = captureWarnings();
    const context = await setup({ engine, io: { connectionStateRecovery: { maxDisconnectionDuration: 30_000 } } });
    context.realtime.io.on("connection", (socket) => {
      socket.join("app-room");
      // The client asks for recovery only once it holds an event offset.
      socket.emit("welcome", socket.data.userId);
    });
    // Without allowRequest, a recovered socket skips the middleware until its re-check: said once, at the
    // first handshake. Checked at the end of each test.
    const warned = () => expect(warnings.codes()).toEqual(engine ? [] : ["SOCKET_IO_SESSION_AUTH_RECOVERY"]);
    return { ...context, warned };
  }

  /** Breaks the transport under a connected client and resolves with what happened next. */
  async function blip(
    socket: import("socket.io-client").Socket,
  ): Promise<"recovered" | "not recovered" | "disconnected" | "refused"> {
    if (socket.recovered === false) await new Promise((resolve) => setTimeout(resolve, 100)); // let "welcome" arrive
    return new Promise((resolve) => {
      socket.once("connect_error", () => resolve("refused"));
      socket.once("connect", () => {
        if (!socket.recovered) return resolve("not recovered");
        socket.once("disconnect", () => resolve("disconnected"));
        // Give the server's re-check time to land before calling it recovered.
        setTimeout(() => resolve(socket.connected ? "recovered" : "disconnected"), 500);
      });
      socket.io.once("reconnect_failed", () => resolve("refused"));
      socket.io.engine.close();
    });
  }

  it("recovers a socket whose session is still valid, with its data and rooms", async () => {
    const { web, realtime, store, warned } = await recoverySetup(false);
    const cookie = await web.login({ id: 21 });
    const socket = await connect(realtime.url, {
      cookie,
      reconnection: true,
      reconnectionDelay: 50,
      transports: ["websocket"],
    });
    opened.push(socket);
    expect(await blip(socket)).toBe("recovered");
    const me = await ask<{ userId: string; rooms: string[] }>(socket, "whoami");
    expect(me.userId).toBe("21");
    expect(me.rooms).toContain("user:21");
    expect(me.rooms).toContain("app-room");
    expect(store.gets).toBe(2); // the handshake, and the re-check of the recovered socket
    warned();
  });

  it("does not let a socket come back after its session was destroyed during the blip", async () => {
    const { web, realtime, errors, warned } = await recoverySetup(false);
    const cookie = await web.login({ id: 22 });
    const socket = await connect(realtime.url, {
      cookie,
      reconnection: true,
      reconnectionDelay: 50,
      transports: ["websocket"],
    });
    opened.push(socket);
    await web.logout(cookie);
    expect(await blip(socket)).toBe("disconnected");
    expect(socket.connected).toBe(false);
    expect(await realtime.io.in("user:22").fetchSockets()).toHaveLength(0);
    expect(errors.map((e) => e.code)).toContain("SESSION_NOT_FOUND");
    warned();
  });

  it("disconnects a recovered socket whose new cookie belongs to another user", async () => {
    const { web, realtime, warned } = await recoverySetup(false);
    const socket = await connect(realtime.url, {
      cookie: await web.login({ id: 24 }),
      reconnection: true,
      reconnectionDelay: 50,
      transports: ["websocket"],
    });
    opened.push(socket);
    (socket.io.opts.extraHeaders as Record<string, string>).cookie = await web.login({ id: 25 });
    expect(await blip(socket)).toBe("disconnected");
    expect(await realtime.io.in("user:24").fetchSockets()).toHaveLength(0);
    warned();
  });

  it("with allowRequest, the reconnect is refused at the engine before socket.io restores anything", async () => {
    const { web, realtime, warned } = await recoverySetup(true);
    const cookie = await web.login({ id: 23 });
    const socket = await connect(realtime.url, {
      cookie,
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionAttempts: 2,
      transports: ["websocket"],
    });
    opened.push(socket);
    await web.logout(cookie);
    expect(await blip(socket)).toBe("refused");
    expect(await realtime.io.in("user:23").fetchSockets()).toHaveLength(0);
    warned();
  });
});

describe("options are checked when sessionAuth is called", () => {
  const store = memoryStore(new session.MemoryStore());
  it.each([
    [{}, /`store` is required/],
    [{ store }, /`secret` is required/],
    [{ store, secret: "" }, /`secret` is required/],
    [{ store, secret: [] }, /`secret` is required/],
    [{ store, secret: "s", signing: "jwt" }, /`signing` must be one of/],
    [{ store, secret: "s", timeout: 0 }, /`timeout` must be/],
    [{ store, secret: "s", timeout: Number.NaN }, /`timeout` must be/],
    [{ store, secret: "s", name: "bad name;" }, /`name` must be a cookie name/],
    [{ store, secret: "s", origins: ["https://app.example.com/path"] }, /`origins` entries/],
    [{ store, secret: "s", secrets: ["x"] }, /unknown option `secrets` \(did you mean `secret`\?\)/],
    [{ store, secret: "s", algorithm: "sha256" }, /`algorithm` applies only/],
    [{ store, signing: "none", secret: "s" }, /verifies nothing/],
    [{ store, secret: "s", rooms: { user: 1 } }, /`rooms.user`/],
    [{ store, secret: "s", rooms: { user: "" } }, /must not be empty/],
    [{ store, secret: "s", rooms: { user: "x:", session: "x:" } }, /must differ/],
  ])("%o", (options, message) => {
    expect(() => sessionAuth(options as SessionAuthOptions)).toThrow(TypeError);
    expect(() => sessionAuth(options as SessionAuthOptions)).toThrow(message);
  });

  it("defaults: connect.sid, express signing, 2 s timeout, user: and session: rooms", () => {
    const auth = sessionAuth({ store, secret: "s" });
    expect(auth.rooms).toEqual({ user: "user:", session: "session:" });
    expect(sessionAuth({ store, secret: "s", rooms: false }).rooms).toEqual({ user: null, session: null });
    expect(sessionAuth({ store, secret: "s", rooms: { session: false } }).rooms).toEqual({
      user: "user:",
      session: null,
    });
  });
});
