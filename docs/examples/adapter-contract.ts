import type {
  SessionData,
  SessionRecord,
  SessionStore as RealSessionStore,
  StoreGetOptions,
} from "socket.io-session-auth/adapter";

// #region contract
interface SessionStore<S extends object = SessionData> {
  readonly name: string; // for server-side messages: "redis", "memory"...
  get(id: string, options: { signal: AbortSignal; report(cause: unknown): void }): Promise<SessionRecord<S> | null>;
  // optional, for auth.update(): write only if the store still holds `revision` (from get), expiry kept
  compareAndSet?(id: string, revision: unknown, session: S, options: { signal: AbortSignal }): Promise<boolean>;
  set?(id: string, session: S): Promise<void>; // optional
  destroy?(id: string): Promise<void>; // optional
  subscribe?(onDestroyed: (id: string, reason?: "destroyed" | "expired") => void): () => void; // optional: live revocation
  close?(): Promise<void>; // release what the adapter opened itself
}
// interface SessionRecord<S> { session: S; expires?: Date | null; revision?: unknown }
// #endregion contract

// The page shows the contract above; the compiler checks it is the package's, in both directions, so
// the page cannot drift from src/store.ts.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const contractIsTheRealOne: Same<SessionStore, RealSessionStore> = true;
const recordIsTheRealOne: Same<SessionRecord, { session: SessionData; expires?: Date | null; revision?: unknown }> =
  true;
const optionsAreTheRealOnes: Same<StoreGetOptions, { signal: AbortSignal; report(cause: unknown): void }> = true;
export const checked = contractIsTheRealOne && recordIsTheRealOne && optionsAreTheRealOnes;
