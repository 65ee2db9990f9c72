// #region custom-store
import session from "express-session";
import { sessionAuth } from "socket.io-session-auth";
import { memoryStore } from "socket.io-session-auth/memory";

/**
 * A store of your own, written for express-session: callbacks, and it decides expiry itself (a
 * session it hands back is live). memoryStore() needs nothing more than its get(sid, callback).
 */
export class AuditedStore extends session.Store {
  readonly #rows = new Map<string, { json: string; expiresAt: number }>();
  readonly reads: string[] = []; // what your own store might do besides storing: audit, metrics...

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.reads.push(new Date().toISOString());
    const row = this.#rows.get(sid);
    if (row === undefined || row.expiresAt <= Date.now()) return callback(null, null);
    callback(null, JSON.parse(row.json) as session.SessionData);
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    const expiresAt = data.cookie.expires ? new Date(data.cookie.expires).getTime() : Date.now() + 24 * 60 * 60 * 1000;
    this.#rows.set(sid, { json: JSON.stringify(data), expiresAt });
    callback?.();
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.#rows.delete(sid);
    callback?.();
  }
}

const store = new AuditedStore();
export const sessions = session({
  store,
  secret: process.env.SESSION_SECRET ?? "dev only",
  resave: false,
  saveUninitialized: false,
});
export const auth = sessionAuth({ store: memoryStore(store), secret: process.env.SESSION_SECRET ?? "dev only" });
// #endregion custom-store
export { store };
