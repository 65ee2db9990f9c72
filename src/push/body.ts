/**
 * The body of a push request: its content headers and its JSON, read before any validation. The rules are
 * RFC 9110 (content codings), RFC 8259 and RFC 7493 (I-JSON: one UTF-8 text, no repeated key); the depth
 * limit protects socket.io's recursive encoders.
 */
import { PushError } from "./errors.js";
import { scanJson } from "./json.js";

/** Bodies nested deeper than this are refused before parsing: socket.io's encoders recurse, and a 1 MiB `[[[[...` would blow their stack. */
export const MAX_JSON_DEPTH = 64;

/** No `Content-Encoding`, or only `identity` (RFC 9110 §8.4: codings are listed in the order applied). */
export function isIdentity(header: string | string[] | undefined): boolean {
  if (header === undefined) return true;
  const list = Array.isArray(header) ? header.join(",") : header;
  return list.split(",").every((coding) => {
    const name = coding.trim().toLowerCase();
    return name === "" || name === "identity";
  });
}

/** `application/json`, with at most a UTF-8 charset. */
export function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(";");
  if (type!.trim().toLowerCase() !== "application/json") return false;
  for (const param of params) {
    const [name, value = ""] = param.split("=");
    if (name!.trim().toLowerCase() === "charset" && !/^"?utf-?8"?$/i.test(value.trim())) return false;
  }
  return true;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * UTF-8 JSON, no deeper than {@link MAX_JSON_DEPTH}, with no key repeated in any object. Throws a
 * {@link PushError}: `BAD_JSON`, or `DUPLICATE_KEY` whose `path` names the repeated key.
 */
export function parseJson(bytes: Uint8Array): unknown {
  let source: string;
  try {
    source = decoder.decode(bytes);
  } catch {
    throw new PushError("BAD_JSON", "The body is not valid UTF-8.");
  }
  if (source.trim() === "") throw new PushError("BAD_JSON", "The body is empty; send a JSON object.");
  const scan = scanJson(source, MAX_JSON_DEPTH);
  if (scan.kind === "too-deep")
    throw new PushError("BAD_JSON", `The JSON is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  let value: unknown;
  try {
    value = JSON.parse(source) as unknown;
  } catch (error) {
    // V8's message names the position of the fault: useful, and it quotes nothing beyond a few characters.
    throw new PushError(
      "BAD_JSON",
      `The body is not JSON: ${error instanceof Error ? error.message.slice(0, 200) : "parse error"}.`,
    );
  }
  if (scan.kind === "duplicate") {
    throw new PushError(
      "DUPLICATE_KEY",
      `${scan.path}: this key appears more than once in its object; parsers disagree on which one counts, so send it once.`,
      { path: scan.path },
    );
  }
  return value;
}

/** Whether an already parsed value nests objects or arrays deeper than `limit` (walked without recursion). */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(current))
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}
