import { describeValue } from "./internal/describe.js";

/**
 * For adapter authors: the session a store holds, or `null` after `report(cause)` when it cannot be read.
 * `stored` is parsed with `parse` when given (a serializer's `parse`, a decryption), else as JSON when it
 * is a string, else taken as it is (a document, an object the store already parsed). Anything but a plain
 * object (an array, a number, `null` from `"null"`) is unreadable too. `what` names the stored value in
 * the report ("the `session` field"), which reaches the server's `onError`. A `SyntaxError` (what
 * `JSON.parse` throws) is reported as a new one that does not quote the stored bytes; any other error
 * thrown by `parse` is reported as it is.
 */
export async function readSession<S extends object>(
  stored: unknown,
  report: (cause: unknown) => void,
  options: { parse?: (stored: unknown) => unknown; what?: string } = {},
): Promise<S | null> {
  let value: unknown;
  try {
    value =
      options.parse !== undefined
        ? await options.parse(stored)
        : typeof stored === "string"
          ? JSON.parse(stored)
          : stored;
  } catch (cause) {
    report(withoutStoredText(cause, options.what ?? "the stored session"));
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    report(
      new TypeError(`${options.what ?? "the stored session"} holds ${describeValue(value)}, not a session object`),
    );
    return null;
  }
  return value as S;
}

/**
 * A parse failure fit for a diagnosis. V8's `SyntaxError` from `JSON.parse` quotes the start of its
 * input ("Unexpected token 'o', \"{oops...\" is not valid JSON"), and here the input is a stored session:
 * it is replaced by one that names `what` and the error kind only. Other errors (a serializer's or a
 * decryption's own) are the app's code speaking and pass unchanged.
 */
function withoutStoredText(cause: unknown, what: string): unknown {
  const name = typeof cause === "object" && cause !== null ? (cause as { name?: unknown }).name : undefined;
  if (!(cause instanceof SyntaxError) && name !== "SyntaxError") return cause;
  return new SyntaxError(`${what} is not valid JSON (the parser's message is left out: it quotes the stored bytes)`);
}
