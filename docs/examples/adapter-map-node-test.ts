import type { StoreHarness } from "socket.io-session-auth/testing";

declare const setup: () => StoreHarness; // the same setup as with Vitest

// #region node-test
import * as nodeTest from "node:test";
import { describeSessionStore } from "socket.io-session-auth/testing";

// node:test has no globals: hand the suite its describe, it, beforeEach and afterEach.
describeSessionStore("table store", setup, { runner: nodeTest });
// #endregion node-test
