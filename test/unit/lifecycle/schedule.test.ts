import { EventEmitter } from "node:events";
import type { Socket } from "socket.io";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Checked, Pipeline } from "../../../src/pipeline-types.js";
import { validate } from "../../../src/config.js";
import { SessionAuthError, type SessionData } from "socket.io-session-auth";
import { createLifecycle } from "../../../src/lifecycle/index.js";

// The lifecycle's scheduling alone, on fake timers: when re-reads happen around a store outage. The
// socket is a stand-in (the integration tests use real ones); the store read is the pipeline's reread.

beforeEach(() => void vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function standInSocket(): Socket {
  const socket = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(socket, {
    connected: true,
    data: {},
    handshake: {},
    onAnyOutgoing: () => {},
    offAnyOutgoing: () => {},
    disconnect: () => {
      socket.connected = false;
      EventEmitter.prototype.emit.call(socket, "disconnect", "server namespace disconnect");
    },
  });
  return socket as unknown as Socket;
}

function harness(revalidate: number | false, expiresIn: number) {
  let down = false;
  let expires = Date.now() + expiresIn;
  const rereads = vi.fn(async (): Promise<Checked<SessionData>> => {
    if (down) throw new SessionAuthError("STORE_UNAVAILABLE", "down");
    return {
      session: { userId: "1" },
      userId: "1",
      expires,
      record: { session: { userId: "1" }, revision: 1 },
      json: false,
      readAt: 0,
    };
  });
  const config = validate<SessionData>({ store: { name: "stand-in", get: async () => null }, secret: "s", revalidate });
  const pipeline = {
    config,
    reread: rereads,
    authorize: async () => {},
    check: () => {
      throw new Error("unused");
    },
    write: async () => true,
  } as unknown as Pipeline<SessionData>;
  const lifecycle = createLifecycle(pipeline);
  lifecycle.track(standInSocket(), "sid", "0".repeat(32), {
    session: { userId: "1" },
    userId: "1",
    expires,
    json: false,
    record: { session: { userId: "1" }, revision: 1 },
    readAt: 0,
  });
  return {
    rereads,
    setDown: (value: boolean) => void (down = value),
    extend: (ms: number) => void (expires = Date.now() + ms),
    lifecycle,
  };
}

it("revalidate: false: an expiry re-check that fails in an outage is retried once, later, then nothing runs", async () => {
  const { rereads, setDown, extend, lifecycle } = harness(false, 100);
  setDown(true);
  await vi.advanceTimersByTimeAsync(200); // the expiry re-check, during the outage
  expect(rereads).toHaveBeenCalledTimes(1);
  setDown(false);
  extend(3_600_000); // HTTP traffic extended the session meanwhile
  await vi.advanceTimersByTimeAsync(5_000);
  expect(rereads).toHaveBeenCalledTimes(1); // held back: not a loop against a failing store
  await vi.advanceTimersByTimeAsync(20_000);
  expect(rereads).toHaveBeenCalledTimes(2); // the retry, which finds the session extended
  await vi.advanceTimersByTimeAsync(600_000);
  expect(rereads).toHaveBeenCalledTimes(2); // nothing is due until the new expiry
  await lifecycle.close();
});

it("revalidate on: an outage brings the next read closer, then reads go back to one per interval", async () => {
  // The spreading jitter at its middle: the first read 45 s after the handshake, outage retries after 13.1 s.
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  const { rereads, setDown, lifecycle } = harness(60_000, 3_600_000);
  await vi.advanceTimersByTimeAsync(60_000);
  expect(rereads).toHaveBeenCalledTimes(1); // at 45 s
  setDown(true);
  await vi.advanceTimersByTimeAsync(46_000);
  expect(rereads).toHaveBeenCalledTimes(2); // at 105 s, failed
  setDown(false);
  await vi.advanceTimersByTimeAsync(16_000);
  expect(rereads).toHaveBeenCalledTimes(3); // retried at about 118 s, not a minute later
  await vi.advanceTimersByTimeAsync(10 * 60_000);
  expect(rereads).toHaveBeenCalledTimes(13); // then one per interval
  await lifecycle.close();
});
