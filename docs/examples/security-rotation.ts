// #region rotation
/**
 * The session secrets, newest first. Both sides read the same list: express-session signs new cookies
 * with the first and accepts every one; sessionAuth accepts every one.
 *
 *   web app:   session({ secret: sessionSecrets(), rolling: true, ... })
 *   realtime:  sessionAuth({ store, secret: sessionSecrets() })
 *
 * To rotate: set SESSION_SECRET to a new value and SESSION_SECRET_PREVIOUS to the old one, deploy
 * both sides; once the longest session has ended, unset SESSION_SECRET_PREVIOUS and deploy again.
 */
export function sessionSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const current = env.SESSION_SECRET;
  if (current === undefined || current.length < 32) {
    throw new Error("SESSION_SECRET must be set, at least 32 characters (openssl rand -hex 32)");
  }
  const previous = env.SESSION_SECRET_PREVIOUS;
  return previous === undefined || previous === "" ? [current] : [current, previous];
}
// #endregion rotation
