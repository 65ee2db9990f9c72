// #region adapter
import { readSession, type SessionData, type SessionRecord, type SessionStore } from "socket.io-session-auth/adapter";

/** What some web framework keeps: session JSON and an expiry time (ms since the epoch), by id. */
export type SessionTable = Map<string, { json: string; expiresAt: number | null }>;

export function tableStore(table: SessionTable): SessionStore {
  return {
    name: "table",
    async get(id, { report }): Promise<SessionRecord | null> {
      const row = table.get(id);
      if (row === undefined) return null; // not found: null, never a rejection
      // Unreadable (bad JSON, not an object): readSession reports why (it reaches onError) and gives null.
      const session = await readSession<SessionData>(row.json, report);
      if (session === null) return null;
      // Where this store keeps the truth about expiry; the core refuses a past one (SESSION_EXPIRED).
      // The revision is what was read: compareAndSet writes only if the row still holds exactly that.
      return { session, expires: row.expiresAt === null ? null : new Date(row.expiresAt), revision: row.json };
    },
    // For auth.update(): one synchronous step here (a Lua script, a filtered update elsewhere), expiry kept.
    async compareAndSet(id, revision, session) {
      const row = table.get(id);
      if (row === undefined || row.json !== revision) return false; // gone, or written since it was read
      table.set(id, { json: JSON.stringify(session), expiresAt: row.expiresAt });
      return true;
    },
  };
}
// #endregion adapter
