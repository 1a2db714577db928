/**
 * An HTTPS stand-in for API Gateway's management endpoint: a self-signed certificate made at test
 * time with the `openssl` CLI, every request recorded, each answered by a script or forwarded to
 * the emulator's management API. `verifySigV4` recomputes a recorded request's signature with
 * the `aws4` package, an implementation independent of the SDK's signer.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { ExecutionContext } from "ava";
import aws4 from "aws4";
import { closeServer, listen } from "../../local/net/http";

export interface RecordedRequest {
  method: string;
  /** The path exactly as sent (no decoding). */
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** How the stand-in answers a request: a status (with `x-amzn-ErrorType`), a reset, or silence. */
export type Answer = { status: number; errorType?: string } | "reset" | "hang";

export interface HttpsStandIn {
  /** `https://127.0.0.1:{port}/dev`: the management endpoint to give the poster. */
  endpoint: string;
  /** The certificate (PEM) to trust for this endpoint. */
  ca: string;
  /** Its file: for a Node process's NODE_EXTRA_CA_CERTS (the serialized archives run in one). */
  caFile: string;
  requests: RecordedRequest[];
  /** TLS connections accepted so far. */
  connections: number;
}

export interface StandInOptions {
  /** Forwards every request to this http endpoint's host (the emulator) and relays the answer. */
  forwardTo?: string;
  /** Otherwise answers the n-th request (0-based) with this; after the script, the last answer repeats. */
  script?: Answer[];
}

let certificate: { key: string; cert: string; certFile: string } | undefined;

// One key pair per test process: openssl takes a moment, and the certificate is only trusted where injected.
function selfSigned(): { key: string; cert: string; certFile: string } {
  if (certificate) return certificate;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stand-in-cert-"));
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
  ], { stdio: "ignore" });
  certificate = { key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8"), certFile };
  return certificate;
}

export async function startHttpsStandIn(t: ExecutionContext, options: StandInOptions = {}): Promise<HttpsStandIn> {
  const { key, cert, certFile } = selfSigned();
  const requests: RecordedRequest[] = [];
  const forward = options.forwardTo ? new URL(options.forwardTo) : undefined;
  const agent = new http.Agent({ keepAlive: true });
  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      const index = requests.push(recorded) - 1;
      if (forward) return relay(forward, agent, recorded, res);
      const script = options.script ?? [{ status: 200 }];
      answer(script[Math.min(index, script.length - 1)], req, res);
    });
  });
  const port = await listen(server, 0, "127.0.0.1");
  t.teardown(async () => {
    server.closeAllConnections();
    await closeServer(server);
    agent.destroy();
  });
  const standIn: HttpsStandIn = { endpoint: `https://127.0.0.1:${port}/dev`, ca: cert, caFile: certFile, requests, connections: 0 };
  server.on("secureConnection", () => standIn.connections++);
  return standIn;
}

function answer(script: Answer, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (script === "reset") return void req.socket.destroy();
  if (script === "hang") return;
  res.writeHead(script.status, script.errorType ? { "x-amzn-ErrorType": script.errorType, "content-type": "application/json" } : {});
  res.end(script.errorType ? JSON.stringify({ message: script.errorType }) : undefined);
}

// The same method, path, headers and body to the emulator; its status, headers and body back.
function relay(target: URL, agent: http.Agent, recorded: RecordedRequest, res: http.ServerResponse): void {
  const upstream = http.request(
    { agent, host: target.hostname, port: target.port, method: recorded.method, path: recorded.path, headers: recorded.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.once("error", () => res.writeHead(502).end());
  upstream.end(recorded.body);
}

/**
 * The signature `aws4` computes for `request` with the same credentials, date and signed headers
 * (service `execute-api`), next to the one the request carried.
 */
export function verifySigV4(
  request: RecordedRequest,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string,
): { sent: string; expected: string; signedHeaders: string[] } {
  const authorization = String(request.headers.authorization ?? "");
  const match = /^AWS4-HMAC-SHA256 Credential=[^,]+, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) throw new Error(`not a SigV4 Authorization header: ${JSON.stringify(authorization)}`);
  const signedHeaders = match[1].split(";");
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])]));
  const signed = aws4.sign(
    { host: String(request.headers.host), method: request.method, path: request.path, headers, body: request.body, service: "execute-api", region },
    credentials,
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers?.Authorization ?? ""))?.[1] ?? "";
  return { sent: match[2], expected, signedHeaders };
}
