/**
 * Child process standing in for the Lambda side: it builds `$default` handlers (ours from the
 * Lambda environment, with the SDK or over bare HTTP, or the original design's), each kept warm under a name like a container,
 * and runs invocations sent over IPC. A separate process, as on AWS, so that the handlers' CPU
 * is not shared with the emulator's.
 */
import { performance } from "node:perf_hooks";
import type { RouteHandler, WebSocketEvent } from "../../runtime/contract/websocket-event";
import type { InvocationLog } from "../../runtime/routes/deps";
import { createHandlers } from "../../runtime/host/lambda";
import { readRuntimeConfig } from "../../runtime/config/environment";
import { makeBaselineHandler, type BaselineLog, type BaselineOptions } from "./baseline";
import { createRawHttpPosterFactory } from "./raw-http-poster";

export type HostRequest =
  | {
      type: "ours";
      name: string;
      env: Record<string, string | undefined>;
      credentials: { accessKeyId: string; secretAccessKey: string };
      /** `raw-http`: the same handler posting without the SDK (bench/fanout/raw-http-poster.ts). */
      poster: "sdk" | "raw-http";
      /** Items per room Query page (HostOverrides.pageLimit); unset, 1 MB pages. */
      pageLimit?: number;
    }
  | { type: "baseline"; name: string; options: BaselineOptions }
  | { type: "invoke"; name: string; event: WebSocketEvent };

export type HostReply =
  | { type: "ready" }
  /** `cpuMs`: this process's CPU time during the invocation; `log`: what the handler logged. */
  | { type: "invoked"; ms: number; cpuMs: number; log?: InvocationLog | BaselineLog };

function main(): void {
  const handlers = new Map<string, RouteHandler>();
  let lastLog: InvocationLog | BaselineLog | undefined;
  const reply = (message: HostReply) => void process.send?.(message);

  const invoke = async (name: string, event: WebSocketEvent) => {
    const handler = handlers.get(name);
    if (!handler) throw new Error(`no handler named ${name}`);
    lastLog = undefined;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await handler(event);
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    reply({ type: "invoked", ms, cpuMs: (used.user + used.system) / 1000, log: lastLog });
  };

  // The SDK clients' keep-alive sockets would hold the process open; the parent leaving ends it.
  process.once("disconnect", () => process.exit(0));
  process.on("message", (request: HostRequest) => {
    if (request.type === "ours") {
      const config = readRuntimeConfig(request.env);
      const posterFor = request.poster === "raw-http" ? createRawHttpPosterFactory(config.fanOutConcurrency) : undefined;
      const overrides = { credentials: request.credentials, posterFor, pageLimit: request.pageLimit, log: (entry: InvocationLog) => (lastLog = entry) };
      handlers.set(request.name, createHandlers(config, overrides).message);
      reply({ type: "ready" });
    } else if (request.type === "baseline") {
      handlers.set(request.name, makeBaselineHandler(request.options, (entry) => (lastLog = entry)));
      reply({ type: "ready" });
    } else {
      void invoke(request.name, request.event);
    }
  });
}

if (require.main === module) main();
