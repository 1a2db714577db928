/**
 * The checks every host applies to the access settings, whatever it calls them (stack config
 * keys, emulator flags, Lambda environment variables): at most one way of checking tokens, a
 * secret long enough for HMAC, a key set fetched over HTTPS (plain HTTP on loopback only).
 */
import { ConfigError } from "../config/checks";
import type { JwtSettings } from "./token-verifier";

/** HS256 wants a key at least as long as its hash (RFC 7518, 3.2). */
const MIN_SECRET_BYTES = 32;
// Not `export const`: runtime/SERIALIZER.md, rule 1.
export { MIN_SECRET_BYTES };

export interface AccessSettings {
  accessToken?: string;
  jwtSecret?: string;
  jwksUrl?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
}

/** Each setting's name as the host spells it, for the error. */
export type AccessSettingNames = Record<keyof AccessSettings, string>;

/** The token verification `settings` ask for (undefined: none), or a ConfigError naming the keys at fault. */
export function checkAccessSettings(names: AccessSettingNames, settings: AccessSettings): JwtSettings | undefined {
  const ways = (["accessToken", "jwtSecret", "jwksUrl"] as const).filter((key) => settings[key] !== undefined);
  if (ways.length > 1) {
    throw new ConfigError(ways.map((key) => names[key]).join(", "), `at most one of ${names.accessToken}, ${names.jwtSecret} and ${names.jwksUrl} may be set`);
  }
  const { jwtSecret, jwksUrl, jwtIssuer, jwtAudience } = settings;
  if (jwtSecret === undefined && jwksUrl === undefined) {
    const stray = (["jwtIssuer", "jwtAudience"] as const).find((key) => settings[key] !== undefined);
    if (stray !== undefined) throw new ConfigError(names[stray], `needs ${names.jwtSecret} or ${names.jwksUrl}`);
    return undefined;
  }
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES) {
    throw new ConfigError(names.jwtSecret, `must be at least ${MIN_SECRET_BYTES} bytes (an HS256 key as long as its hash)`);
  }
  if (jwksUrl !== undefined) checkKeySetUrl(names.jwksUrl, jwksUrl);
  return { secret: jwtSecret, jwksUrl, issuer: jwtIssuer, audience: jwtAudience };
}

function checkKeySetUrl(name: string, raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an https:// URL, got ${JSON.stringify(raw)}`);
  }
  const loopback = url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new ConfigError(name, `must be an https:// URL (http:// only on a loopback address), got ${JSON.stringify(raw)}`);
  }
}
