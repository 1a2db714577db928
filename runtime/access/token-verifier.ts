/**
 * TokenVerifier: a signed token (JWT) → the connection's identity, or why it is refused. jose
 * checks the signature, the algorithm and the time and issuer/audience claims; the claims this
 * project defines are read by runtime/access/token-claims.ts. Built once per container: the
 * JWKS is fetched on first use and kept, and fetched again for an unknown `kid` at most once a
 * cooldown.
 */
import type { JWTVerifyGetKey, jwtVerify as JwtVerify, createRemoteJWKSet as CreateRemoteJWKSet } from "jose";
import { readClaims, type Identity } from "./token-claims";

/** `jwtSecret` signs with HMAC; a key set holds public keys. An HS token under a key set is refused. */
const SECRET_ALGORITHMS = ["HS256", "HS384", "HS512"];
const KEY_SET_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"];
/** Seconds of clock difference tolerated on `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** How long fetched keys are kept and how soon an unknown `kid` may fetch them again. */
export interface KeySetCaching {
  cooldownMs: number;
  maxAgeMs: number;
}

/**
 * At most one fetch a minute however many unknown `kid`s arrive; a key removed from the set stops
 * being accepted within 10 minutes (jose's default age).
 */
const KEY_SET_CACHING: KeySetCaching = { cooldownMs: 60_000, maxAgeMs: 600_000 };
/** A key set that does not answer within this is unavailable (the integration gives up at 29 s). */
const KEY_SET_TIMEOUT_MS = 5_000;

/** How tokens are verified: exactly one of `secret` and `jwksUrl`. */
export interface JwtSettings {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export type TokenCheck = { ok: true; identity: Identity } | { ok: false; status: 401 | 503; reason: string };

export type TokenVerifier = (token: string) => Promise<TokenCheck>;

/** The verifier `settings` ask for; jose is loaded here, so only a function that verifies tokens loads it. */
export function createTokenVerifier(settings: JwtSettings, caching: KeySetCaching = KEY_SET_CACHING): TokenVerifier {
  // Subpath entries load only the verification code (about 60 KB of jose's 160 KB): the
  // connect function's archive carries just these files (infra/token-library.ts).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { jwtVerify } = require("jose/jwt/verify") as { jwtVerify: typeof JwtVerify };
  const options = { issuer: settings.issuer, audience: settings.audience, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ["exp", "sub"] };
  let verify: (token: string) => Promise<{ payload: Record<string, unknown> }>;
  if (settings.jwksUrl !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createRemoteJWKSet } = require("jose/jwks/remote") as { createRemoteJWKSet: typeof CreateRemoteJWKSet };
    const keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cooldownDuration: caching.cooldownMs,
      cacheMaxAge: caching.maxAgeMs,
      timeoutDuration: KEY_SET_TIMEOUT_MS,
    });
    verify = (token) => jwtVerify(token, keys, { ...options, algorithms: KEY_SET_ALGORITHMS });
  } else {
    const secret = Buffer.from(settings.secret ?? "", "utf8");
    verify = (token) => jwtVerify(token, secret, { ...options, algorithms: SECRET_ALGORITHMS });
  }
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      return refusal(err);
    }
    const claims = readClaims(payload);
    return claims.ok ? claims : { ok: false, status: 401, reason: claims.reason };
  };
}

/** jose's error codes → the logged reason; anything else is the key set failing, not the token. */
const REASONS: Record<string, string> = {
  ERR_JWT_EXPIRED: "expired",
  ERR_JOSE_ALG_NOT_ALLOWED: "alg not allowed",
  ERR_JOSE_NOT_SUPPORTED: "alg not allowed",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "bad signature",
  ERR_JWS_INVALID: "malformed",
  ERR_JWT_INVALID: "malformed",
  ERR_JWKS_NO_MATCHING_KEY: "no key for its kid",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "no single key for its kid",
};

// `claim` and `reason` are JWTClaimValidationFailed's: which claim failed, and how.
function refusal(err: unknown): Extract<TokenCheck, { ok: false }> {
  const { code, claim, reason } = (typeof err === "object" && err !== null ? err : {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") {
    if (claim === "nbf") return { ok: false, status: 401, reason: "not yet valid" };
    if (reason === "missing") return { ok: false, status: 401, reason: `${String(claim)} missing` };
    return { ok: false, status: 401, reason: `wrong ${claim === "iss" ? "issuer" : claim === "aud" ? "audience" : String(claim)}` };
  }
  if (typeof code === "string" && Object.hasOwn(REASONS, code)) return { ok: false, status: 401, reason: REASONS[code] };
  const name = err instanceof Error ? err.name : "Error";
  return { ok: false, status: 503, reason: `key set unavailable (${typeof code === "string" ? code : name})` };
}
