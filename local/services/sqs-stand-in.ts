/**
 * A stand-in for SQS delivery only, for the emulator's sharded fan-out: it answers the real SQS
 * client's SendMessageBatch (JSON protocol) on loopback and hands each message to the shard
 * worker as Lambda's event source mapping would — one record per invocation, at most `workers`
 * at once, a reported failure delivered again up to SHARD_MAX_RECEIVE_COUNT times, then kept as a dead
 * letter and logged. No visibility timeout, no persistence: everything else SQS does is not here.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { errorName } from "../../runtime/contract/errors";
import { SHARD_MAX_RECEIVE_COUNT } from "../../runtime/delivery/shard-jobs";
import { SETTINGS } from "../../runtime/config/settings";
import type { ShardWorkerHandler, SqsEvent } from "../../runtime/routes/shard-worker";
import { closeServer, listen, readBody, replyAws } from "../net/http";
import type { EmulatorSeams } from "../seams";

export interface LocalShardQueueOptions {
  /** The worker each message goes to; read at delivery, so it may be set after the queue starts. */
  worker: () => ShardWorkerHandler;
  /** Concurrent worker invocations, as the event source mapping's maximumConcurrency; default the `shardWorkers` setting's. */
  workers?: number;
  log: (line: string) => void;
}

interface Message {
  messageId: string;
  body: string;
  receiveCount: number;
}

/**
 * A bound on one request's body, never reached by the runtime's batches (at most
 * SQS_MAX_MESSAGE_BYTES of bodies, each escaped once more inside the JSON request).
 */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:shards";

/** `seams.refuseShardJob`: entries it returns true for are reported Failed, as SQS reports throttled entries. */
export async function startLocalShardQueue(options: LocalShardQueueOptions, seams: Pick<EmulatorSeams, "refuseShardJob"> = {}): Promise<LocalShardQueue> {
  const queue = new LocalShardQueue(options, seams.refuseShardJob ?? (() => false));
  await queue.listen();
  return queue;
}

export class LocalShardQueue {
  private readonly workers: number;
  private readonly waiting: Message[] = [];
  private readonly dead: Array<{ messageId: string; body: string }> = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly server: Server;
  private port = 0;

  constructor(
    private readonly options: LocalShardQueueOptions,
    refuse: (body: string) => boolean,
  ) {
    this.workers = options.workers ?? SETTINGS.shardWorkers.default;
    this.server = createServer((req, res) => {
      sendMessageBatch(req, res, refuse).then(
        (accepted) => {
          this.waiting.push(...accepted);
          this.pump();
        },
        (err: unknown) => replyJson(res, 500, { __type: "com.amazonaws.sqs#InternalError", message: err instanceof Error ? err.message : "error" }),
      );
    });
  }

  /** `http://127.0.0.1:PORT/000000000000/shards`: what `SHARD_QUEUE_URL` is set to. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/000000000000/shards`;
  }

  async listen(): Promise<void> {
    this.port = await listen(this.server, 0, "127.0.0.1");
  }

  /** Messages that failed SHARD_MAX_RECEIVE_COUNT times. */
  deadLetters(): Array<{ messageId: string; body: string }> {
    return [...this.dead];
  }

  /** Resolves when no message is waiting or being worked on. */
  idle(): Promise<void> {
    return new Promise<void>((resolve) => (this.isIdle() ? resolve() : this.idleWaiters.push(resolve)));
  }

  /** Finishes the messages already accepted, then stops listening. */
  async close(): Promise<void> {
    await this.idle();
    await closeServer(this.server);
  }

  private isIdle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  // Starts deliveries up to `workers` at once; they run beside each other, not awaited here.
  private pump(): void {
    while (this.active < this.workers && this.waiting.length > 0) {
      const message = this.waiting.shift() as Message;
      message.receiveCount++;
      this.active++;
      void this.deliver(message).then((ok) => {
        this.active--;
        this.settle(message, ok);
        this.pump();
      });
    }
    if (!this.isIdle()) return;
    for (const wake of this.idleWaiters) wake();
    this.idleWaiters = [];
  }

  // True when the worker handled the message; its failure, reported or thrown, is false.
  private deliver(message: Message): Promise<boolean> {
    return this.options
      .worker()(sqsEvent(message))
      .then(
        (response) => response.batchItemFailures.every((failure) => failure.itemIdentifier !== message.messageId),
        (err: unknown) => {
          this.options.log(JSON.stringify({ emulator: "shardWorkerError", messageId: message.messageId, error: errorName(err) }));
          return false;
        },
      );
  }

  private settle(message: Message, ok: boolean): void {
    if (ok) return;
    if (message.receiveCount < SHARD_MAX_RECEIVE_COUNT) this.waiting.push(message);
    else {
      this.dead.push({ messageId: message.messageId, body: message.body });
      this.options.log(JSON.stringify({ emulator: "shardDeadLetter", messageId: message.messageId, receiveCount: message.receiveCount }));
    }
  }
}

// Only SendMessageBatch, the one call the runtime makes; anything else is refused as SQS would.
async function sendMessageBatch(req: IncomingMessage, res: ServerResponse, refuse: (body: string) => boolean): Promise<Message[]> {
  const body = await readBody(req, MAX_REQUEST_BYTES);
  if (body === undefined) {
    replyJson(res, 400, { __type: "com.amazonaws.sqs#BatchRequestTooLong", message: `the request is over ${MAX_REQUEST_BYTES} bytes` });
    return [];
  }
  if (req.headers["x-amz-target"] !== "AmazonSQS.SendMessageBatch") {
    replyJson(res, 400, { __type: "com.amazonaws.sqs#UnsupportedOperation", message: `${String(req.headers["x-amz-target"])} is not emulated` });
    return [];
  }
  const input = JSON.parse(body.toString("utf8")) as { Entries: Array<{ Id: string; MessageBody: string }> };
  const refused = input.Entries.filter((entry) => refuse(entry.MessageBody));
  const accepted = input.Entries.filter((entry) => !refused.includes(entry)).map((entry) => ({
    id: entry.Id,
    message: { messageId: randomUUID(), body: entry.MessageBody, receiveCount: 0 },
  }));
  replyJson(res, 200, {
    // The SDK checks each MD5 against the body it sent.
    Successful: accepted.map(({ id, message }) => ({ Id: id, MessageId: message.messageId, MD5OfMessageBody: md5(message.body) })),
    Failed: refused.map((entry) => ({ Id: entry.Id, SenderFault: false, Code: "ThrottlingException", Message: "Rate exceeded" })),
  });
  return accepted.map(({ message }) => message);
}

// Lambda's SQS record shape, with the fields the worker does not read.
function sqsEvent(message: Message): SqsEvent {
  const record = {
    messageId: message.messageId,
    receiptHandle: `${message.messageId}#${message.receiveCount}`,
    body: message.body,
    attributes: { ApproximateReceiveCount: String(message.receiveCount), SentTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: md5(message.body),
    eventSource: "aws:sqs",
    eventSourceARN: QUEUE_ARN,
    awsRegion: "us-east-1",
  };
  return { Records: [record] };
}

function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

// SQS's JSON protocol answers.
function replyJson(res: ServerResponse, status: number, json: unknown): void {
  replyAws(res, status, json, "application/x-amz-json-1.0");
}
