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

type PendingCall = { resolve(result: unknown): void; reject(err: Error): void };

/**
 * One worker thread: `warm` settles once its handlers are built (its cold start), or rejects
 * with the error that stopped it. `onStop` gets the thread if it stops after that.
 */
class LambdaThread {
  readonly warm: Promise<LambdaThread>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 0;
  private stopped: Error | undefined;
  private readonly started: { resolve(thread: LambdaThread): void; reject(err: Error): void };

  constructor(
    data: LambdaThreadData,
    private readonly log: (line: string) => void,
    private readonly onStop: (thread: LambdaThread) => void,
  ) {
    // The SDK's Node version warning is the process's: the gateway thread has printed it already.
    const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, env });
    let started: LambdaThread["started"] | undefined;
    this.warm = new Promise((resolve, reject) => (started = { resolve, reject }));
    this.started = started as LambdaThread["started"];
    this.worker.on("message", (reply: ThreadReply) => this.onMessage(reply));
    this.worker.on("error", (err) => this.onError(err));
    this.worker.on("exit", (code) => this.stop(new Error(`the Lambda thread exited with code ${code}`)));
  }

  invoke(route: InvocationRoute, event: InvocationEvent): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A cast: the route and its event match by the invoke signature, which TS cannot pair.
      const request = { id, route, event } as InvocationRequest;
      this.worker.postMessage(request);
    });
  }

  /** Invocations sent and not answered yet. */
  inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private onMessage(reply: ThreadReply): void {
    if (reply.type === "ready") return this.started.resolve(this);
    if (reply.type === "log") return this.log(reply.line);
    if (reply.type === "failed") {
      this.log(JSON.stringify({ emulator: "lambdaThreadError", error: reply.error.name }));
      this.stop(errorFrom(reply.error));
      return void this.worker.terminate();
    }
    const call = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (reply.type === "result") call?.resolve(reply.result);
    else call?.reject(errorFrom(reply.error));
  }

  private onError(err: Error): void {
    this.log(JSON.stringify({ emulator: "lambdaThreadError", error: err.name }));
    this.stop(err);
  }

  private stop(err: Error): void {
    if (this.stopped) return;
    this.stopped = err;
    for (const call of this.pending.values()) call.reject(err);
    this.pending.clear();
    this.started.reject(err);
    this.onStop(this);
  }
}

/**
 * Starts the first Lambda thread (`ready` settles with its cold start). Each invocation goes to
 * the ready thread with the fewest invocations in flight; when even that one is busy, another
 * thread is started, up to MAX_THREADS, and takes invocations once warm, as Lambda adds
 * containers under load. `log` receives the handlers' log lines (JSON).
 */
export function startLambdaPool(data: LambdaThreadData, log: (line: string) => void): LambdaPool {
  const pool = new ThreadPool(data, log);
  // The replies are what the thread's handlers returned; their types cross the thread unchanged.
  const route = <Result>(name: InvocationRoute) => (event: InvocationEvent) => pool.invoke(name, event) as Promise<Result>;
  return {
    ready: pool.ready,
    handlers: { connect: route("connect"), message: route("message"), disconnect: route("disconnect") },
    shardWorker: route("shardWorker"),
    publish: route("publish"),
    close: () => pool.close(),
  };
}

class ThreadPool {
  readonly ready: Promise<void>;
  private readonly started: Array<Promise<LambdaThread>> = [];
  private readonly warm: LambdaThread[] = [];
  private closing = false;

  constructor(
    private readonly data: LambdaThreadData,
    private readonly log: (line: string) => void,
  ) {
    this.ready = this.start();
    // Invocations and `ready` report a failed start; this only keeps it from being unhandled.
    this.ready.catch(() => undefined);
  }

  async invoke(route: InvocationRoute, event: InvocationEvent): Promise<unknown> {
    await this.ready;
    if (this.closing) throw new Error("the Lambda threads are stopped");
    if (this.warm.length === 0) throw new Error("every Lambda thread has exited");
    const least = this.warm.reduce((best, thread) => (thread.inFlight() < best.inFlight() ? thread : best));
    // A thread that fails to start has logged why; the ready ones carry on.
    if (least.inFlight() > 0 && this.started.length < MAX_THREADS) this.start().catch(() => undefined);
    return least.invoke(route, event);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.started.map((thread) => thread.then((warm) => warm.close(), () => undefined)));
  }

  private start(): Promise<void> {
    // A thread that stops (an uncaught error, or close) takes no more invocations.
    const thread = new LambdaThread(this.data, this.log, (stopped) => {
      const index = this.warm.indexOf(stopped);
      if (index >= 0) this.warm.splice(index, 1);
    });
    this.started.push(thread.warm);
    return thread.warm.then((warm) => void this.warm.push(warm));
  }
}

/** An Error with the thread's name, message and stack, as `describeError` in the gateway reads them. */
function errorFrom(wire: WireError): Error {
  return Object.assign(new Error(wire.message), wire);
}
