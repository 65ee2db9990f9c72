import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { sessionAuth, SessionAuthError, type SessionStore, type StoreGetOptions } from "socket.io-session-auth";
import { signSessionCookie } from "socket.io-session-auth/testing";

// How the core calls a store's `get` for a handshake: the options a store (or a wrapper around one) sees,
// and what its answer becomes.

const SECRET = "lookup test secret";
const request = (id: string): IncomingMessage =>
  ({
    headers: { cookie: signSessionCookie({ value: id, secret: SECRET }) },
    url: "/",
  }) as IncomingMessage;
const SESSION = { user: { id: "u-1" } };

async function refusalOf(promise: Promise<unknown>): Promise<SessionAuthError> {
  try {
    await promise;
  } catch (error) {
    return error as SessionAuthError;
  }
  throw new Error("the handshake was accepted");
}

describe("a handshake's store lookup", () => {
  it("hands the store signal, report, revision and cookieName as own enumerable properties, which a spread keeps", async () => {
    let seen: Record<string, unknown> | undefined;
    let spreadSignal: unknown;
    const store: SessionStore = {
      name: "spy",
      get: (_id, options) => {
        seen = { ...options };
        spreadSignal = seen.signal;
        return Promise.resolve({ session: SESSION });
      },
    };
    await sessionAuth({ store, secret: SECRET }).authenticate(request("sid-1"));
    expect(Object.keys(seen!).sort()).toEqual(["cookieName", "report", "revision", "signal"]);
    expect(spreadSignal).toBeInstanceOf(AbortSignal);
    expect((spreadSignal as AbortSignal).aborted).toBe(false);
    expect(seen!.revision).toBe(false);
  });

  it("aborts the signal a wrapper took by spreading the options, at the timeout", async () => {
    let signal: AbortSignal | undefined;
    // A wrapper that forwards `{ ...options, extra }` to a store that waits on the signal.
    const inner = (options: StoreGetOptions) =>
      new Promise<null>((_resolve, reject) =>
        options.signal.addEventListener("abort", () => reject(new Error("aborted"))),
      );
    const store: SessionStore = {
      name: "wrapper",
      get: (_id, options) => {
        const forwarded = { ...options, extra: true };
        signal = forwarded.signal;
        return inner(forwarded);
      },
    };
    const refusal = await refusalOf(sessionAuth({ store, secret: SECRET, timeout: 50 }).authenticate(request("sid-2")));
    expect(refusal.code).toBe("STORE_UNAVAILABLE");
    expect(refusal.message).toContain("did not answer within 50 ms");
    expect(signal?.aborted).toBe(true);
  });

  it("delivers a store's failure as a refusal, also a SessionAuthError from another copy of the package", async () => {
    // Another copy (an ESM core beside a CommonJS adapter): not this copy's class, but its name and code.
    const foreign = Object.assign(new Error("their refusal"), {
      name: "SessionAuthError",
      code: "STORE_UNAVAILABLE",
      retryable: true,
    });
    // Rejected, and thrown by `get` itself.
    for (const get of [
      () => Promise.reject(foreign),
      (): Promise<null> => {
        throw foreign;
      },
    ]) {
      const store: SessionStore = { name: "foreign", get };
      const refusal = await refusalOf(
        sessionAuth({ store, secret: SECRET, allowAnonymous: true }).authenticate(request("sid-3")),
      );
      expect(refusal).toBe(foreign);
    }
  });

  it("gives a signal read after the answer already aborted: nothing waits for it any more", async () => {
    let late: (() => AbortSignal) | undefined;
    const store: SessionStore = {
      name: "late",
      get: (_id, options) => {
        late = () => options.signal;
        return Promise.resolve({ session: SESSION });
      },
    };
    await sessionAuth({ store, secret: SECRET }).authenticate(request("sid-4"));
    expect(late!().aborted).toBe(true);
  });
});
