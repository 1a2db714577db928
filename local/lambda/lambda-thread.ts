/**
 * One worker thread of local/lambda/lambda-pool.ts: builds the handlers, the shard worker and the
 * publish function with runtime/host/lambda.ts from the environment it is given, as a Lambda container does, and
 * answers each invocation with the handler's result or the error it threw.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Handlers } from "../../runtime/routes/handlers";
import type { FunctionUrlHandler } from "../../runtime/contract/function-url-event";
import { createHandlers, createPublisher, createShardWorkerHandler } from "../../runtime/host/lambda";
import { readRuntimeConfig, type RuntimeConfig } from "../../runtime/config/environment";
import { tokenVerifierFor } from "../../runtime/host/connect";
import type { ShardWorkerHandler } from "../../runtime/routes/shard-worker";
import type { InvocationRequest, LambdaThreadData, ThreadReply, WireError } from "./lambda-pool";

function main(port: NonNullable<typeof parentPort>): void {
  const { environment, credentials } = workerData as LambdaThreadData;
  const reply = (message: ThreadReply) => port.postMessage(message);
  const overrides = { credentials, log: (entry: object) => reply({ type: "log", line: JSON.stringify(entry) }) };
  let config: RuntimeConfig;
  let handlers: Handlers;
  try {
    config = readRuntimeConfig(environment);
    // One thread serves every route, so it builds `$connect`'s token verifier too.
    handlers = createHandlers(config, { ...overrides, verifyToken: tokenVerifierFor(config) });
  } catch (err) {
    // Sent as a message, not thrown: an error crossing as the thread's 'error' event arrives
    // without its class, and the pool must report it as the error it is.
    return reply({ type: "failed", error: wireError(err) });
  }
  // Only sharded mode has a shard worker, as only then is one deployed.
  let shardWorker: ShardWorkerHandler | undefined;
  // Built on the first publish, as its own function's cold start.
  let publish: FunctionUrlHandler | undefined;

  const invoke = async (request: InvocationRequest): Promise<unknown> => {
    if (request.route === "publish") {
      publish ??= createPublisher(config, overrides);
      return publish(request.event);
    }
    if (request.route !== "shardWorker") return handlers[request.route](request.event);
    shardWorker ??= createShardWorkerHandler(config, overrides);
    return shardWorker(request.event);
  };

  port.on("message", (request: InvocationRequest) => {
    invoke(request).then(
      (result) => reply({ type: "result", id: request.id, result }),
      (err: unknown) => reply({ type: "error", id: request.id, error: wireError(err) }),
    );
  });
  reply({ type: "ready" });
}

function wireError(err: unknown): WireError {
  const error = err instanceof Error ? err : new Error(String(err));
  return { name: error.name, message: error.message, stack: error.stack };
}

if (parentPort) main(parentPort);
