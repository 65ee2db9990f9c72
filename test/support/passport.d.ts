// passport 0.7 and passport-local 1 ship no types and their @types packages are not installed here: just
// what test/integration/express-session/passport.test.ts calls. (Their @types would also add `user` and
// `logout` to every Express request in the project.)
declare module "passport" {
  import type { RequestHandler } from "express";

  type Done = (err: unknown, value?: unknown) => void;
  class Passport {
    use(strategy: unknown): this;
    serializeUser(fn: (user: unknown, done: Done) => void): void;
    deserializeUser<Id>(fn: (id: Id, done: Done) => void): void;
    session(): RequestHandler;
    authenticate(strategy: string, options?: { failureRedirect?: string }): RequestHandler;
  }
  const passport: Passport & { Passport: typeof Passport };
  export default passport;
}

declare module "passport-local" {
  export class Strategy {
    constructor(verify: (username: string, password: string, done: (err: unknown, user?: unknown) => void) => void);
  }
}
