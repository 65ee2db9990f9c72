import type { IncomingMessage } from "node:http";
import { validate } from "./config.js";
import { createGlue } from "./glue.js";
import { createLifecycle, type Lifecycle } from "./lifecycle/index.js";
import { logoutFor } from "./logout.js";
import { createPipeline } from "./pipeline.js";
import type { Pipeline } from "./pipeline-types.js";
import type { SessionData } from "./store.js";
import type { SessionAuth, SessionAuthOptions } from "./types.js";

// The composition root: options → config → pipeline → lifecycle → glue, and the SessionAuth object.
// Nothing else lives here, and nothing in src/ imports this file but the entry.

/**
 * Builds the handshake authenticator: parse the Cookie header, verify its signature, look the session up
 * in `store`, check expiry, identify the user, apply `authorize`; on success the socket gets
 * `socket.data.session` and `socket.data.userId` and joins the user and session rooms. Then the socket
 * follows its session: see `revalidate`, `endEvent`, `onSessionEnd`, and the methods of the result.
 *
 * Throws a `TypeError` naming the option when the options are wrong.
 */
export function sessionAuth<S extends object = SessionData>(options: SessionAuthOptions<S>): SessionAuth<S> {
  const config = validate(options);
  // The lifecycle shares the handshakes' store reads; it needs the pipeline, so the pipeline asks it late.
  const pipeline: Pipeline<S> = createPipeline(config, (key, read, done) => lifecycle.share(key, read, done));
  const lifecycle: Lifecycle<S> = createLifecycle(pipeline);
  const glue = createGlue(pipeline, lifecycle);
  return Object.assign(glue.middleware as SessionAuth<S>, {
    allowRequest: glue.allowRequest,
    // `result.session` is the caller's own copy, as for a socket: never an object the store (or the web app) holds.
    authenticate: (req: IncomingMessage) => pipeline.authenticate(req, undefined).then(({ result }) => result),
    endSession: lifecycle.endSession,
    endUser: lifecycle.endUser,
    logout: logoutFor(lifecycle.endSession),
    reload: lifecycle.reload,
    update: lifecycle.update,
    attach: glue.attach,
    rooms: config.rooms,
    close: () => lifecycle.close(),
  });
}
