/**
 * `npm run publish`: end to end against `npm start` (unsigned, the emulator's path), and the
 * SigV4 path against a stand-in for a function URL that checks the signature with an independent
 * implementation (the `aws4` package), credentials coming from the standard chain.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import aws4 from "aws4";
import { closeServer, listen } from "../../local/net/http";
import { functionUrlRegion, sendPublish } from "../../tools/publish-request";
import { openClient } from "../helpers/clients";
import { run, startCli } from "../helpers/cli";
import { expectedCopy } from "../helpers/publish";

const runPublish = (t: ExecutionContext, args: string[], env: NodeJS.ProcessEnv = {}) => run(t, process.execPath, ["--import", "tsx", "tools/publish.ts", ...args], { env });

test("against npm start: the banner names the publish URL; the CLI prints the answer, exits 0, and the client gets the copy; a 400 exits 1", async (t) => {
  const { cli, endpoint } = await startCli(t, ["--port", "0"]);
  const [, publishUrl] = await cli.output(/Publish\s+POST (http:\/\/127\.0\.0\.1:\d+\/dev\/@publish)\?room=NAME/);
  const client = await openClient(endpoint);

  const sent = runPublish(t, ["--url", publishUrl, '{"notice":"hello from the CLI"}']);
  t.is(await sent.exited(), 0, sent.stderr());
  t.deepEqual(JSON.parse(sent.stdout()), { room: null, receivers: 1, delivered: 1, gone: 0, failed: 0 });
  const copy = await client.next();
  t.is(copy, expectedCopy("direct", copy, '{"notice":"hello from the CLI",'));

  const dir = await mkdtemp(join(tmpdir(), "publish-cli-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "message.txt");
  await writeFile(file, "from a file");
  const fromFile = runPublish(t, ["--url", publishUrl, "--file", file]);
  t.is(await fromFile.exited(), 0, fromFile.stderr());
  const second = await client.next();
  t.is(second, expectedCopy("direct", second, '{"data":"from a file",'));

  // The room has nobody in it: delivered to no one, and not to the default room's client.
  const elsewhere = runPublish(t, ["--url", publishUrl, "--room", "lobby", "not for you"]);
  t.is(await elsewhere.exited(), 0, elsewhere.stderr());
  t.like(JSON.parse(elsewhere.stdout()), { room: "lobby", receivers: 0 });

  const bad = runPublish(t, ["--url", publishUrl, "--room", "no spaces", "hi"]);
  t.is(await bad.exited(), 1);
  t.like(JSON.parse(bad.stdout()), { _error: { code: "InvalidRoom" } });
  t.regex(bad.stderr(), /HTTP 400/);
  t.is(client.frames.length, 2);
});

test("bad command lines exit 2 and say why; --stack without the Pulumi CLI says so", async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [["hi"], /give exactly one of --url and --stack/],
    [["--url", "http://127.0.0.1:1/dev/@publish"], /give exactly one of --file PATH and MESSAGE/],
    [["--url", "http://127.0.0.1:1/dev/@publish", "a", "b"], /give the message as one argument/],
    [["--stack", "dev", "hi"], /--stack needs the Pulumi CLI \(`pulumi` is not on PATH\)/],
  ];
  for (const [args, message] of cases) {
    // A PATH with node's directory only: no `pulumi` on it.
    const cli = runPublish(t, args, { PATH: join(process.execPath, "..") });
    t.is(await cli.exited(), 2, args.join(" "));
    t.regex(cli.stderr(), message);
  }
});

const FUNCTION_HOST = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws";
const CREDENTIALS = { accessKeyId: "AKIDPUBLISHTEST", secretAccessKey: "publish-test-secret", sessionToken: "publish-test-session" };

// Every name resolves to this machine: the function URL's request reaches the stand-in.
const toLoopback: LookupFunction = (_host, options, callback) => {
  if (options.all) (callback as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

/**
 * A stand-in for the function URL: recomputes the request's signature with `aws4` from the
 * headers the request says it signed, and answers 200 only when it matches.
 */
async function startVerifier(t: ExecutionContext, secretAccessKey: string): Promise<{ port: number; seen: Array<{ url: string; body: string; signedHeaders: string[] }> }> {
  const seen: Array<{ url: string; body: string; signedHeaders: string[] }> = [];
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    const authorization = req.headers.authorization ?? "";
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1].split(";") ?? [];
    seen.push({ url: req.url ?? "", body, signedHeaders });
    const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(req.headers[name])]));
    // aws4 would add and sign a Content-Length of its own unless the request signed one.
    const extraHeadersToIgnore: Record<string, boolean> = signedHeaders.includes("content-length") ? {} : { "content-length": true };
    // @types/aws4 does not declare extraHeadersToIgnore, which aws4 reads.
    const request: aws4.Request & { extraHeadersToIgnore: Record<string, boolean> } = {
      host: String(req.headers.host),
      method: req.method,
      path: req.url,
      service: "lambda",
      region: "eu-west-1",
      headers,
      body,
      extraHeadersToIgnore,
    };
    const expected = aws4.sign(
      request,
      { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey, sessionToken: CREDENTIALS.sessionToken },
    );
    const valid = authorization !== "" && expected.headers?.Authorization === authorization;
    res.statusCode = valid ? 200 : 403;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(valid ? { room: "lobby", receivers: 0, delivered: 0, gone: 0, failed: 0 } : { message: "The request signature we calculated does not match the signature you provided." }));
  };
  const server = createServer((req, res) => void answer(req, res));
  const port = await listen(server, 0, "127.0.0.1");
  t.teardown(() => closeServer(server));
  return { port, seen };
}

test.serial("function URL: signed with SigV4 for lambda in the URL's region from the credential chain (env), verified independently by aws4", async (t) => {
  t.is(functionUrlRegion(new URL(`https://${FUNCTION_HOST}/`)), "eu-west-1");
  t.is(functionUrlRegion(new URL("http://127.0.0.1:3001/dev/@publish")), undefined);
  const saved = { ...process.env };
  t.teardown(() => {
    for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_SESSION_TOKEN: CREDENTIALS.sessionToken });
  delete process.env.AWS_PROFILE;

  const verifier = await startVerifier(t, CREDENTIALS.secretAccessKey);
  // Plain HTTP to the stand-in; the signed Host is the function URL's, port included.
  const url = `http://${FUNCTION_HOST}:${verifier.port}/`;
  const answer = await sendPublish({ url, room: "lobby:1", body: Buffer.from('{"score":3}'), lookup: toLoopback });
  t.deepEqual(answer, { status: 200, body: '{"room":"lobby","receivers":0,"delivered":0,"gone":0,"failed":0}', signed: true });
  t.deepEqual(verifier.seen.map(({ url, body }) => [url, body]), [["/?room=lobby%3A1", '{"score":3}']]);
  for (const header of ["host", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]) t.true(verifier.seen[0].signedHeaders.includes(header), header);

  // A stand-in that knows another secret refuses the same request: the check can fail.
  const other = await startVerifier(t, "another-secret");
  const refused = await sendPublish({ url: `http://${FUNCTION_HOST}:${other.port}/`, body: Buffer.from("hi"), lookup: toLoopback });
  t.is(refused.status, 403);
});
