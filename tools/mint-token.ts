/**
 * mintToken: a signed token (HS256, jose) as an application's backend would issue it for
 * this project (docs/identity.md): `sub`, `exp`, and optionally `rooms`, `publish` and `meta`.
 * For wscat, the smoke test, the demo and the emulator's sample tokens.
 */
import { SignJWT } from "jose";

export interface TokenRequest {
  sub: string;
  secret: string;
  /** Room names or patterns (`*` matches any run of room-name characters); absent: every room. */
  rooms?: string[];
  /** A JSON object of at most 512 bytes serialized. */
  meta?: Record<string, unknown>;
  readOnly?: boolean;
  /** Seconds until `exp`; default 3600. */
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
}

export async function mintToken(request: TokenRequest): Promise<string> {
  const claims = {
    ...(request.rooms === undefined ? {} : { rooms: request.rooms }),
    ...(request.readOnly ? { publish: false } : {}),
    ...(request.meta === undefined ? {} : { meta: request.meta }),
  };
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(request.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (request.ttlSeconds ?? 3600));
  if (request.issuer !== undefined) jwt = jwt.setIssuer(request.issuer);
  if (request.audience !== undefined) jwt = jwt.setAudience(request.audience);
  return jwt.sign(new TextEncoder().encode(request.secret));
}
