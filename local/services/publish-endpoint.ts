/**
 * `POST /{stage}/@publish?room=NAME`: the emulator's stand-in for the publish function's URL. It
 * builds the function URL event (payload format 2.0) from the HTTP request, runs the publish
 * handler, and writes its result as the function URL would.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FunctionUrlEvent, FunctionUrlHandler } from "../../runtime/contract/function-url-event";
import { awsRequestTime, newApiId } from "../gateway/event-builders";
import { readBody } from "../net/http";

/** Lambda's synchronous request payload limit, which function URLs enforce before invoking. */
const FUNCTION_URL_MAX_BODY_BYTES = 6 * 1024 * 1024;

/** True when `pathname` is the publish path of `stage` (the "@" may be percent-encoded). */
export function isPublishPath(pathname: string, stage: string): boolean {
  return pathname.replace(/^(\/[^/]+\/)%40/i, "$1@") === `/${stage}/@publish`;
}

export type PublishEndpoint = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createPublishEndpoint(options: { handler: FunctionUrlHandler; log: (line: string) => void }): PublishEndpoint {
  // One URL id per emulator, as one function URL per stack.
  const urlId = newApiId();
  return async (req, res) => {
    const body = await readBody(req, FUNCTION_URL_MAX_BODY_BYTES);
    if (body === undefined) {
      res.statusCode = 413;
      res.setHeader("Content-Type", "application/json");
      return void res.end(JSON.stringify({ message: `Request must be smaller than ${FUNCTION_URL_MAX_BODY_BYTES} bytes for the InvokeFunction operation` }));
    }
    let result;
    try {
      result = await options.handler(functionUrlEvent(req, body, urlId));
    } catch (err) {
      // A function error: the function URL answers 502 without details.
      options.log(JSON.stringify({ emulator: "handlerError", route: "publish", error: err instanceof Error ? err.name : "Unknown" }));
      res.statusCode = 502;
      return void res.end("Internal Server Error");
    }
    res.statusCode = result.statusCode;
    for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
    res.end(result.body ?? "");
  };
}

// Lambda passes text-like bodies as they are and base64-encodes the rest, untyped ones included.
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/i;

/** The parts of a request the event is built from (an IncomingMessage has them). */
export type FunctionUrlRequest = Pick<IncomingMessage, "url" | "method" | "headers" | "httpVersion"> & { socket: { remoteAddress?: string } };

/** The event AWS would deliver for `req` with `body` to the function URL `urlId`. */
export function functionUrlEvent(req: FunctionUrlRequest, body: Buffer, urlId: string): FunctionUrlEvent {
  const now = Date.now();
  const url = req.url ?? "/";
  const rawQueryString = url.includes("?") ? url.slice(url.indexOf("?") + 1) : "";
  const query = new Map<string, string>();
  // Repeated parameters are joined with commas, as Lambda does.
  for (const [key, value] of new URLSearchParams(rawQueryString)) query.set(key, query.has(key) ? `${query.get(key)},${value}` : value);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  const domainName = `${urlId}.lambda-url.local.on.aws`;
  const text = body.length === 0 || TEXT_TYPES.test(headers["content-type"] ?? "");
  const path = url.split("?")[0];
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString,
    headers,
    ...(query.size > 0 ? { queryStringParameters: Object.fromEntries(query) } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId: urlId,
      domainName,
      domainPrefix: urlId,
      http: {
        method: req.method ?? "GET",
        path,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? "").replace(/^::ffff:/, ""),
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: awsRequestTime(now),
      timeEpoch: now,
    },
    ...(body.length > 0 ? { body: body.toString(text ? "utf8" : "base64") } : {}),
    isBase64Encoded: !text,
  };
}
