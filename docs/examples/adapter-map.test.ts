// #region conformance
import { describeSessionStore } from "socket.io-session-auth/testing";
import { tableStore, type SessionTable } from "./adapter-map.js";

describeSessionStore(
  "table store",
  () => {
    const table: SessionTable = new Map();
    return {
      store: tableStore(table),
      // Write exactly as the real framework would, so the suite checks the real format.
      write: async (id, session, options) =>
        void table.set(id, { json: JSON.stringify(session), expiresAt: options?.expires?.getTime() ?? null }),
      writeCorrupt: async (id) => void table.set(id, { json: "{not json", expiresAt: null }),
    };
  },
  { capabilities: { expiry: "record", expires: true, compareAndSet: true } },
);
// #endregion conformance
