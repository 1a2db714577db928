/**
 * LambdaPool: the emulator's Lambda side in worker threads (local/lambda/lambda-thread.ts), behind
 * handlers that look local to the gateway. Lambda runs apart from API Gateway, and so does this:
 * the handlers' SDK work does not share the sockets' event loop, and the emulator uses more cores.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { WebSocketEvent } from "../../runtime/contract/websocket-event";
import type { FunctionUrlEvent, FunctionUrlHandler } from "../../runtime/contract/function-url-event";
import type { Handlers } from "../../runtime/routes/handlers";
import type { ShardWorkerHandler, SqsEvent } from "../../runtime/routes/shard-worker";

/** What each thread is started with: the functions' environment, as the deployed Lambdas get it. */
export interface LambdaThreadData {
  environment: Record<string, string | undefined>;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

type InvocationRoute = keyof Handlers | "shardWorker" | "publish";
type InvocationEvent = WebSocketEvent | SqsEvent | FunctionUrlEvent;

export type InvocationRequest =
  | { id: number; route: keyof Handlers; event: WebSocketEvent }
  | { id: number; route: "shardWorker"; event: SqsEvent }
  | { id: number; route: "publish"; event: FunctionUrlEvent };

/** An error as it crosses between threads. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

export type ThreadReply =
  | { type: "ready" }
  /** The handlers could not be built (a config error): the thread does nothing else. */
  | { type: "failed"; error: WireError }
  | { type: "log"; line: string }
  | { type: "result"; id: number; result: unknown }
  | { type: "error"; id: number; error: WireError };

export interface LambdaPool {
  /** Settles when the first thread is warm; rejects with the error that stopped it. */
  ready: Promise<void>;
  handlers: Handlers;
  shardWorker: ShardWorkerHandler;
  /** The publish function, behind the emulator's `@publish` path. */
  publish: FunctionUrlHandler;
  /** Stops the threads; invocations still running are rejected. */
  close(): Promise<void>;
}

// One per core, at most two: on a 2-core machine two threads deliver about a third more than one
// end to end (bench/RESULTS.md), and each thread loads its own SDK and keeps its own heap.
const MAX_THREADS = Math.min(2, availableParallelism());

// The thread runs this project's TypeScript through tsx, as the gateway's thread does.
const BOOTSTRAP = [require.resolve("tsx/cjs"), require.resolve("./lambda-thread")].map((file) => `require(${JSON.stringify(file)});`).join(" ");

interface LambdaThread {
  invoke(route: InvocationRoute, event: InvocationEvent): Promise<unknown>;
  /** Invocations sent and not answered yet. */
  inFlight(): number;
  close(): Promise<void>;
}

/**
 * Starts one thread and resolves once its handlers are built (its cold start), or rejects with
 * the error that stopped it. `onStop` gets the thread if it stops after that.
 */
function startThread(data: LambdaThreadData, log: (line: string) => void, onStop: (thread: LambdaThread) => void): Promise<LambdaThread> {
  // The SDK's Node version warning is the process's: the gateway thread has printed it already.
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, env });
  const pending = new Map<number, { resolve(result: unknown): void; reject(err: Error): void }>();
  let nextId = 0;
  let stopped: Error | undefined;

  const thread: LambdaThread = {
    invoke(route, event) {
      if (stopped) return Promise.reject(stopped);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // A cast: the route and its event match by the invoke signature, which TS cannot pair.
        const request = { id, route, event } as InvocationRequest;
        worker.postMessage(request);
      });
    },
    inFlight: () => pending.size,
    async close() {
      await worker.terminate();
    },
  };
  return new Promise((resolve, reject) => {
    const stop = (err: Error) => {
      if (stopped) return;
      stopped = err;
      for (const call of pending.values()) call.reject(err);
      pending.clear();
      reject(err);
      onStop(thread);
    };
    worker.on("message", (reply: ThreadReply) => {
      if (reply.type === "ready") return resolve(thread);
      if (reply.type === "log") return log(reply.line);
      if (reply.type === "failed") {
        log(JSON.stringify({ emulator: "lambdaThreadError", error: reply.error.name }));
        stop(errorFrom(reply.error));
        return void worker.terminate();
      }
      const call = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.type === "result") call?.resolve(reply.result);
      else call?.reject(errorFrom(reply.error));
    });
    worker.on("error", (err) => {
      log(JSON.stringify({ emulator: "lambdaThreadError", error: err.name }));
      stop(err);
    });
    worker.on("exit", (code) => stop(new Error(`the Lambda thread exited with code ${code}`)));
  });
}

/**
 * Starts the first Lambda thread (`ready` settles with its cold start). Each invocation goes to
 * the ready thread with the fewest invocations in flight; when even that one is busy, another
 * thread is started, up to MAX_THREADS, and takes invocations once warm, as Lambda adds
 * containers under load. `log` receives the handlers' log lines (JSON).
 */
export function startLambdaPool(data: LambdaThreadData, log: (line: string) => void): LambdaPool {
  const started: Array<Promise<LambdaThread>> = [];
  const ready: LambdaThread[] = [];
  let closing = false;
  const start = () => {
    // A thread that stops (an uncaught error, or close) takes no more invocations.
    const thread = startThread(data, log, (stopped) => {
      const index = ready.indexOf(stopped);
      if (index >= 0) ready.splice(index, 1);
    });
    started.push(thread);
    return thread.then((warm) => void ready.push(warm));
  };
  const first = start();
  // Invocations and `ready` report a failed start; this only keeps it from being unhandled.
  first.catch(() => undefined);

  const invoke = async (route: InvocationRoute, event: InvocationEvent) => {
    await first;
    if (closing) throw new Error("the Lambda threads are stopped");
    if (ready.length === 0) throw new Error("every Lambda thread has exited");
    const least = ready.reduce((best, thread) => (thread.inFlight() < best.inFlight() ? thread : best));
    // A thread that fails to start has logged why; the ready ones carry on.
    if (least.inFlight() > 0 && started.length < MAX_THREADS) start().catch(() => undefined);
    return least.invoke(route, event);
  };
  // The replies are what the thread's handlers returned; their types cross the thread unchanged.
  const route = <Result>(name: InvocationRoute) => (event: InvocationEvent) => invoke(name, event) as Promise<Result>;
  return {
    ready: first,
    handlers: { connect: route("connect"), message: route("message"), disconnect: route("disconnect") },
    shardWorker: route("shardWorker"),
    publish: route("publish"),
    async close() {
      closing = true;
      await Promise.all(started.map((thread) => thread.then((warm) => warm.close(), () => undefined)));
    },
  };
}

/** An Error with the thread's name, message and stack, as `describeError` in the gateway reads them. */
function errorFrom(wire: WireError): Error {
  return Object.assign(new Error(wire.message), wire);
}
