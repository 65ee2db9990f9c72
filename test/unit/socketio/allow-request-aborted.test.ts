import type { IncomingMessage } from "node:http";
import { expect, it } from "vitest";
import { answerIfAlive, watchAbort } from "../../../src/internal/aborted.js";

// uWebSockets.js is not installed here: these are the shapes engine.io 6.6's userver.js hands to
// allowRequest (a raw uWS.HttpResponse as req.res, or its ResponseWrapper when engine middlewares are
// used), reduced to what the check reads.

it("a raw uWS response: our onAborted replaces engine.io's debug-only one and records the abort", () => {
  let handler: (() => void) | undefined;
  const req = { res: { onAborted: (fn: () => void) => void (handler = fn) } } as unknown as IncomingMessage;
  const gone = watchAbort(req);
  expect(gone()).toBe(false);
  handler!();
  expect(gone()).toBe(true);
});

it("engine.io's ResponseWrapper: its own isAborted is read, its onAborted left alone", () => {
  const res = { isAborted: false, onAborted: () => expect.unreachable("must not replace the wrapper's handler") };
  const gone = watchAbort({ res } as unknown as IncomingMessage);
  expect(gone()).toBe(false);
  res.isAborted = true;
  expect(gone()).toBe(true);
});

it("a response that throws on access (already aborted) counts as gone; a throwing answer is caught", () => {
  const res = {
    onAborted: () => {
      throw new Error("uWS.HttpResponse must not be accessed after uWS.HttpResponse.onAborted callback");
    },
  };
  expect(watchAbort({ res } as unknown as IncomingMessage)()).toBe(true);
  const failures: unknown[] = [];
  const answered = answerIfAlive(
    () => false,
    () => {
      throw new Error("dead response");
    },
    (cause) => failures.push(cause),
  );
  expect(answered).toBe(false);
  expect(failures).toHaveLength(1);
});
