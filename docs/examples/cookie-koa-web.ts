// #region web
import Koa from "koa";
import createSession from "koa-session";

const app = new Koa();
app.keys = (process.env.SESSION_KEYS ?? "dev only: set SESSION_KEYS").split(","); // newest first
app.use(createSession({ key: "koa.sess", maxAge: 24 * 60 * 60 * 1000 }, app)); // cookie mode: no `store`
app.use(async (ctx, next) => {
  if (ctx.method === "POST" && ctx.path === "/login") {
    ctx.session!.user = { id: 43 }; // however your app logs people in
    ctx.status = 204;
    return;
  }
  await next();
});
// #endregion web

export { app };
