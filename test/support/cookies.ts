/**
 * The cookies a browser holds after some responses, name → value, as the Set-Cookie headers left them: a
 * cookie set again is replaced; one expired (Max-Age ≤ 0, or an Expires in the past) or set to an empty
 * value is dropped, as the web libraries under test clear their cookies. Path, Domain and Secure are not
 * applied: every test talks to one loopback origin.
 */
export class CookieJar {
  /** Name → value; tests may edit it, as a user with the browser's dev tools would. */
  readonly cookies = new Map<string, string>();

  /** Takes a response's Set-Cookie headers (the Response, or its `getSetCookie()` lines). */
  take(source: Response | readonly string[]): this {
    const lines = Array.isArray(source) ? (source as readonly string[]) : (source as Response).headers.getSetCookie();
    for (const line of lines) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const at = attribute.indexOf("=");
        const key = attribute
          .slice(0, at === -1 ? undefined : at)
          .trim()
          .toLowerCase();
        const setting = at === -1 ? "" : attribute.slice(at + 1).trim();
        return (key === "expires" && Date.parse(setting) <= Date.now()) || (key === "max-age" && Number(setting) <= 0);
      });
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return this;
  }

  /** One cookie's value, as it was set (still URL-encoded where the server encoded it). */
  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** The names of the cookies held. */
  names(): string[] {
    return [...this.cookies.keys()];
  }

  /** The Cookie header the browser sends next; "" when the jar is empty. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/** The Cookie header a browser sends after this one response: its Set-Cookie pairs, joined. */
export function cookieHeaderOf(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((line) => line.split(";")[0])
    .join("; ");
}
