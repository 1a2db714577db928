/**
 * `npm run token -- --sub alice [--room 'match-*']… [--meta '{"name":"Alice"}'] [--read-only]
 * [--ttl 3600] [--issuer I] [--audience A] --secret S`: prints a signed token (HS256) for the
 * emulator's `--jwt-secret S` or a stack's `jwtSecret`. Exits 2 on a bad command line.
 */
import { parseArgs } from "node:util";
import { checkInteger, type IntegerRange } from "../runtime/config/checks";
import { readClaims } from "../runtime/access/token-claims";
import { MIN_SECRET_BYTES } from "../runtime/access/token-settings";
import { mintToken, type TokenRequest } from "./mint-token";

const USAGE_ERROR = 2;
/** One second to one year. */
const TTL: IntegerRange = { min: 1, max: 31_536_000, default: 3600, unit: "seconds" };

const USAGE = `Usage: npm run token -- --sub USER --secret SECRET [flags]
  --sub USER       the user (1-128 characters): every message of the connection carries "_from":USER
  --secret SECRET  the HS256 secret the emulator (--jwt-secret) or the stack (jwtSecret) verifies with
  --room NAME      a room it may join, or a pattern with * (repeatable; "*" includes the default room,
                   "$default" is the default room alone); without any: every room
  --meta JSON      a JSON object of at most 512 bytes shown in presence events and member lists
  --read-only      "publish":false: it receives everything, its messages reach nobody
  --ttl SECONDS    seconds until it expires (${TTL.min}-${TTL.max}, default ${TTL.default})
  --issuer ISS     the iss claim (when the verifier checks one)
  --audience AUD   the aud claim (when the verifier checks one)
  --help           show this help`;

class UsageError extends Error {}

function parseCommandLine(args: string[]): TokenRequest | "help" {
  const text = { type: "string" as const };
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      sub: text, secret: text, room: { type: "string", multiple: true }, meta: text, ttl: text, issuer: text, audience: text,
      "read-only": { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (values.sub === undefined) throw new UsageError("--sub is required");
  if (values.secret === undefined || Buffer.byteLength(values.secret) < MIN_SECRET_BYTES) throw new UsageError(`--secret is required, at least ${MIN_SECRET_BYTES} bytes`);
  let meta: Record<string, unknown> | undefined;
  if (values.meta !== undefined) {
    try {
      meta = JSON.parse(values.meta) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--meta must be JSON, got ${JSON.stringify(values.meta)}`);
    }
  }
  const request: TokenRequest = {
    sub: values.sub,
    secret: values.secret,
    rooms: values.room,
    meta,
    readOnly: values["read-only"] === true,
    ttlSeconds: checkInteger("--ttl", values.ttl, TTL),
    issuer: values.issuer,
    audience: values.audience,
  };
  // The claims the backend will read, checked now rather than at the handshake.
  const claims = readClaims({ sub: request.sub, rooms: request.rooms, meta: request.meta });
  if (!claims.ok) throw new UsageError(claims.reason.replace(/^(sub|rooms|meta)/, (name) => ({ sub: "--sub", rooms: "--room", meta: "--meta" })[name] ?? name));
  return request;
}

async function main(): Promise<void> {
  let request: TokenRequest | "help";
  try {
    request = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    process.exitCode = USAGE_ERROR;
    return;
  }
  if (request === "help") return console.log(USAGE);
  console.log(await mintToken(request));
}

void main();
