import type { FastifyInstance } from "fastify";
import type Koa from "koa";
import type { Server } from "socket.io";
import type { SessionAuth } from "socket.io-session-auth";

// Logout in Koa (koa-session, cookie mode) and Fastify (@fastify/session): fragments of whole apps, see
// the Cookie sessions and Fastify pages for the rest.

export function koaLogout(app: Koa, io: Server, auth: SessionAuth) {
  // #region koa
  app.use(async (ctx, next) => {
    if (ctx.method === "POST" && ctx.path === "/logout") {
      // A cookie session's "id" is its verified cookie value: end the sockets that came with it.
      const value = ctx.cookies.get("koa.sess");
      ctx.session = null; // koa-session clears the cookie
      if (value !== undefined) await auth.endSession(io, value);
      ctx.status = 204;
      return;
    }
    await next();
  });
  // #endregion koa
}

export function fastifyLogout(fastify: FastifyInstance, io: Server, auth: SessionAuth) {
  // #region fastify
  fastify.post("/logout", async (request, reply) => {
    const sessionId = request.session.sessionId; // read it before destroy()
    await request.session.destroy();
    await auth.endSession(io, sessionId);
    return reply.code(204).send();
  });
  // #endregion fastify
}
