/**
 * One publish request: to a Lambda function URL it is signed with SigV4 (service `lambda`, the
 * URL's region) from the standard credential chain by the SDK's signer; to the emulator it goes
 * as is. The answer comes back as status and body, whatever the status.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";

/** `https://{url-id}.lambda-url.{region}.on.aws/`, as AWS names function URLs. */
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

export interface PublishRequest {
  /** The publish URL: a function URL, or the emulator's `http://127.0.0.1:PORT/{stage}/@publish`. */
  url: string;
  /** Unset: the default room (or whatever `?room=` the URL carries). */
  room?: string;
  body: Buffer;
  /** Replaces the standard credential chain (tests). */
  credentials?: AwsCredentialIdentityProvider;
  /** Replaces DNS (tests send a function URL's request to a local stand-in). */
  lookup?: LookupFunction;
}

export interface PublishResponse {
  status: number;
  body: string;
  /** Whether the request was signed (a function URL). */
  signed: boolean;
}

/** The region of a Lambda function URL, or undefined for any other URL. */
export function functionUrlRegion(url: URL): string | undefined {
  return FUNCTION_URL_HOST.exec(url.hostname)?.[1];
}

export async function sendPublish(request: PublishRequest): Promise<PublishResponse> {
  const url = new URL(request.url);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`--url must be http(s), got ${url.protocol}`);
  // Encoded as SigV4 encodes it (RFC 3986), so the signed query is the one sent.
  if (request.room !== undefined) url.search = `room=${rfc3986(request.room)}`;
  // Text, so Lambda hands the handler the body as it is rather than base64-encoded.
  let headers: Record<string, string> = { host: url.host, "content-type": "text/plain; charset=utf-8" };
  const region = functionUrlRegion(url);
  if (region !== undefined) headers = await sign(url, headers, request.body, region, request.credentials ?? defaultProvider());
  const { status, body } = await post(url, headers, request.body, request.lookup);
  return { status, body, signed: region !== undefined };
}

async function sign(url: URL, headers: Record<string, string>, body: Buffer, region: string, credentials: AwsCredentialIdentityProvider): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: "lambda", region, credentials, sha256: Hash.bind(null, "sha256") });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port === "" ? undefined : Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body,
  });
  return signed.headers;
}

// node:http(s) rather than fetch: fetch would neither keep the signed Host header nor take a lookup.
function post(url: URL, headers: Record<string, string>, body: Buffer, lookup?: LookupFunction): Promise<{ status: number; body: string }> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(body.length) }, lookup },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
