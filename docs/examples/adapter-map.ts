// #region adapter
import type { SessionData, SessionRecord, SessionStore } from "socket.io-session-auth";

/** What some web framework keeps: session JSON and an expiry time (ms since the epoch), by id. */
export type SessionTable = Map<string, { json: string; expiresAt: number | null }>;

export function tableStore(table: SessionTable): SessionStore {
  return {
    name: "table",
    async get(id, { report }): Promise<SessionRecord | null> {
      const row = table.get(id);
      if (row === undefined) return null; // not found: null, never a rejection
      let session: unknown;
      try {
        session = JSON.parse(row.json);
      } catch (cause) {
        report(cause); // unreadable: say why (it reaches onError), then null
        return null;
      }
      if (typeof session !== "object" || session === null || Array.isArray(session)) {
        report(new TypeError("session JSON is not an object"));
        return null;
      }
      // Where this store keeps the truth about expiry; the core refuses a past one (SESSION_EXPIRED).
      return { session: session as SessionData, expires: row.expiresAt === null ? null : new Date(row.expiresAt) };
    },
    async destroy(id) {
      table.delete(id);
    },
  };
}
// #endregion adapter
