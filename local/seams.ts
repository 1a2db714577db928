/**
 * The emulator's test seam: what tests and benchmarks vary, in one place. `startEmulator(options,
 * seams)` takes it as its second argument; `npm start` never passes one, so nothing here is a
 * setting of the product (those are `EmulatorOptions`, local/options.ts). docs/testing.md lists
 * who uses what.
 */
import type { FunctionUrlHandler } from "../runtime/contract/function-url-event";
import type { Handlers } from "../runtime/routes/handlers";
import type { ShardWorkerHandler } from "../runtime/routes/shard-worker";
import { createTokenBucket, type TokenBucket } from "./gateway/token-bucket";
import { resolvePostQuota, type EmulatorOptions } from "./options";

export interface EmulatorSeams {
  /** Replaces the handlers built from runtime/host/lambda.ts, e.g. with the code Pulumi would upload. */
  handlers?: Handlers;
  /** Replaces the shard worker built from runtime/host/lambda.ts (sharded mode). */
  shardWorker?: ShardWorkerHandler;
  /** Replaces the publish function built from runtime/host/lambda.ts. */
  publish?: FunctionUrlHandler;
  /** Delay before answering each PostToConnection, to model the real API's latency (benchmarks, fault tests). */
  postLatencyMs?: number;
  /**
   * A PostToConnection quota the caller changes while the emulator runs (a benchmark varies it
   * without reconnecting thousands of clients); replaces the `postRate`/`postBurst` options.
   */
  postQuota?: AdjustablePostQuota;
  /** The SQS stand-in reports the shard jobs (message bodies) this returns true for as throttled (Failed). */
  refuseShardJob?: (body: string) => boolean;
  /**
   * Receivers without a socket, for fleets no process can open (the sharded benchmark's 100,000):
   * each PostToConnection that passed the quota goes here first; "sent" or "gone" answers it,
   * undefined hands it to the gateway's connections.
   */
  virtualReceivers?: (connectionId: string, data: Buffer) => "sent" | "gone" | undefined;
}

type PostQuota = Pick<EmulatorOptions, "postRate" | "postBurst">;

/** A PostToConnection quota that can be replaced at any time; unlimited until `set`. */
export class AdjustablePostQuota {
  private bucket: TokenBucket | undefined;

  constructor(quota: PostQuota = {}) {
    this.set(quota);
  }

  /** As the options of the same names: a rate of 0 removes the quota; a bad value throws ConfigError naming it. */
  set(quota: PostQuota): void {
    this.bucket = postQuotaBucket(resolvePostQuota(quota));
  }

  /** The bucket each post takes a token from; undefined means unlimited. */
  current(): TokenBucket | undefined {
    return this.bucket;
  }
}

/** The bucket for a resolved quota; undefined (unlimited) for a rate of 0. */
export function postQuotaBucket({ postRate, postBurst }: { postRate: number; postBurst: number }): TokenBucket | undefined {
  return postRate > 0 ? createTokenBucket(postRate, postBurst) : undefined;
}
