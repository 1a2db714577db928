/**
 * What a dial asks for (the URL with `?room=` and `?token=`) and what a refused handshake means:
 * stop for good, or retry, with a fresh token or the same one. Pure.
 */
import type { LinkEnd } from "./link";
import type { ClientError } from "./types";

/** `url` with `room` and `token` added to its query. */
export function dialUrl(url: string, room: string | undefined, token: string | undefined): string {
  const params: string[] = [];
  if (room !== undefined && room !== "") params.push(`room=${encodeURIComponent(room)}`);
  if (token !== undefined && token !== "") params.push(`token=${encodeURIComponent(token)}`);
  if (params.length === 0) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${params.join("&")}`;
}

export type Verdict = { stop: ClientError } | { stop?: undefined; freshToken: boolean };

const FINAL: Record<number, string> = { 400: "BadRequest", 403: "Forbidden" };

/**
 * A handshake that never opened: 400 and 403 are final; 401 is worth one fresh token (when
 * `token` is a function) after `unauthorized` earlier 401s in a row; anything else is retried like
 * a drop (429 too). A hidden status (browsers) may be an expired token, so the next dial gets a fresh one.
 */
function judgeRefusal(end: LinkEnd, tokenIsFunction: boolean, unauthorized: number): Verdict {
  const { status } = end;
  if (status === undefined) return { freshToken: true };
  const refused = (code: string): Verdict => ({ stop: { code, message: `the handshake was refused with HTTP ${status}`, status } });
  if (FINAL[status] !== undefined) return refused(FINAL[status]);
  if (status === 401) return tokenIsFunction && unauthorized === 0 ? { freshToken: true } : refused("Unauthorized");
  return { freshToken: false };
}

/** The token of the next dial: the option's string, or the function's last answer until it is marked stale. */
export class TokenSource {
  private token: string | undefined;
  private stale = true;
  /** 401s in a row since a handshake last succeeded. */
  private unauthorized = 0;

  constructor(private readonly option: string | (() => string | Promise<string>) | undefined) {}

  /** Whether a refusal can be answered with a fresh token. */
  get renewable(): boolean {
    return typeof this.option === "function";
  }

  async get(): Promise<string | undefined> {
    if (typeof this.option !== "function") return this.option;
    if (this.stale || this.token === undefined) {
      this.token = await this.option();
      this.stale = false;
    }
    return this.token;
  }

  /** The next dial calls the function again. */
  renew(): void {
    this.stale = true;
  }

  /** What a refused handshake means for the next dial (judgeRefusal); a fresh token is fetched when due. */
  judge(end: LinkEnd): Verdict {
    const verdict = judgeRefusal(end, this.renewable, this.unauthorized);
    if (end.status === 401) this.unauthorized++;
    if (verdict.stop === undefined && verdict.freshToken) this.renew();
    return verdict;
  }

  /** A handshake succeeded: a later 401 is worth a fresh token again. */
  accepted(): void {
    this.unauthorized = 0;
  }
}
