/** The emulator's pure parts: ids and times, the frame-size watch, the post quota, URL routing, option checks. */
import { join } from "node:path";
import test from "ava";
import { startEmulator } from "../../local/emulator";
import { awsRequestTime, newApiId, newAwsId } from "../../local/gateway/event-builders";
import { createLimiter } from "../../local/gateway/concurrency-limiter";
import { oversizeReason, watchSizes, type Oversize } from "../../local/gateway/aws-limits";
import { managementConnectionId } from "../../local/services/management-api";
import { demoFile } from "../../local/net/static";
import { createTokenBucket } from "../../local/gateway/token-bucket";
import { AWS_ID } from "../helpers/clients";

test("requestTime uses AWS's format in UTC", (t) => {
  t.is(awsRequestTime(Date.UTC(2019, 5, 20, 7, 25, 29, 388)), "20/Jun/2019:07:25:29 +0000");
  t.is(awsRequestTime(Date.UTC(2024, 0, 5, 23, 4, 9)), "05/Jan/2024:23:04:09 +0000");
});

test("ids look like AWS ids and do not repeat", (t) => {
  const ids = Array.from({ length: 1000 }, newAwsId);
  for (const id of ids) t.regex(id, AWS_ID);
  t.is(new Set(ids).size, ids.length);
  t.regex(newApiId(), /^[a-z0-9]{10}$/);
});

/** A client (masked) frame announcing `payloadBytes`, followed by that many bytes; `fin` false for a fragment before the last. */
function clientFrame(opcode: number, payloadBytes: number, fin = true): Buffer {
  let length: Buffer;
  if (payloadBytes < 126) length = Buffer.from([0x80 | payloadBytes]);
  else if (payloadBytes < 65536) length = Buffer.from([0x80 | 126, payloadBytes >> 8, payloadBytes & 0xff]);
  else {
    length = Buffer.alloc(9);
    length[0] = 0x80 | 127;
    length.writeBigUInt64BE(BigInt(payloadBytes), 1);
  }
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), length, Buffer.from([1, 2, 3, 4]), Buffer.alloc(payloadBytes, 0x61)]);
}

function watchAll(chunks: Buffer[], limits: { frameBytes: number; messageBytes: number }): Oversize[] {
  const tripped: Oversize[] = [];
  const watch = watchSizes(limits, (oversize) => tripped.push(oversize));
  for (const chunk of chunks) watch(chunk);
  return tripped;
}

// The frame sizes that trip a frame limit of `limit` (messages unbounded).
function feed(chunks: Buffer[], limit: number): number[] {
  return watchAll(chunks, { frameBytes: limit, messageBytes: Infinity }).map(({ limit: which, bytes }) => (which === "frame" ? bytes : -bytes));
}

test("frame watch: finds the oversized frame behind others, even when fed one byte at a time", (t) => {
  const stream = Buffer.concat([clientFrame(0x1, 10), clientFrame(0x9, 4), clientFrame(0x0, 32768), clientFrame(0x0, 32769)]);
  t.deepEqual(feed([stream], 32768), [32769]);
  t.deepEqual(feed(Array.from(stream, (byte) => Buffer.from([byte])), 32768), [32769]);
  t.deepEqual(feed([stream.subarray(0, 7), stream.subarray(7, 40000), stream.subarray(40000)], 32768), [32769]);
});

test("frame watch: 64-bit lengths are read, and frames within the limit never trip it", (t) => {
  t.deepEqual(feed([clientFrame(0x2, 70000)], 32768), [70000]);
  t.deepEqual(feed([clientFrame(0x1, 125), clientFrame(0x1, 126), clientFrame(0x1, 32768)], 32768), []);
});

test("size watch: a message's fragments are summed, control frames between them are not, and the last fragment ends the sum", (t) => {
  const limits = { frameBytes: 65536, messageBytes: 100_000 };
  const fits = [clientFrame(0x1, 30000, false), clientFrame(0x9, 4), clientFrame(0x0, 30000, false), clientFrame(0x0, 40000)];
  t.deepEqual(watchAll(fits, limits), []);
  const over = [...fits, clientFrame(0x1, 60000, false), clientFrame(0x9, 4), clientFrame(0x0, 40001)];
  t.deepEqual(watchAll(over, limits), [{ limit: "message", bytes: 100_001 }]);
  t.deepEqual(watchAll([Buffer.concat(over)].flatMap((all) => Array.from(all, (byte) => Buffer.from([byte]))), limits), [{ limit: "message", bytes: 100_001 }]);
});

test("size watch: the close reasons name the limit and fit a close frame", (t) => {
  t.is(oversizeReason({ limit: "message", bytes: 150000 }), "Message exceeds the 131072-byte message limit: its fragments reached 150000 bytes");
  t.is(oversizeReason({ limit: "frame", bytes: 40000 }), "Frame of 40000 bytes exceeds the 32768-byte frame limit (a browser sends each message as one frame)");
  // The longest: a 64-bit length.
  t.true(Buffer.byteLength(oversizeReason({ limit: "frame", bytes: 2 ** 64 - 1 })) <= 123);
  t.true(Buffer.byteLength(oversizeReason({ limit: "message", bytes: 2 ** 64 - 1 })) <= 123);
});

test("post quota: a burst, then the rate", (t) => {
  let now = 0;
  const bucket = createTokenBucket(10, 2, () => now);
  t.deepEqual([bucket.take(), bucket.take(), bucket.take()], [true, true, false]);
  now += 99;
  t.false(bucket.take());
  now += 1;
  t.deepEqual([bucket.take(), bucket.take()], [true, false]);
  now += 10_000;
  t.deepEqual([bucket.take(), bucket.take(), bucket.take()], [true, true, false]);
});

test("management paths: the stage's @connections/{id}, percent-decoded", (t) => {
  t.is(managementConnectionId("/dev/@connections/abc%3D", "dev"), "abc=");
  t.is(managementConnectionId("/dev/%40connections/abc=", "dev"), "abc=");
  t.is(managementConnectionId("/prod/@connections/abc=", "dev"), undefined);
  t.is(managementConnectionId("/dev/@connections/", "dev"), undefined);
  t.is(managementConnectionId("/dev/@connections/a/b", "dev"), undefined);
  t.is(managementConnectionId("/dev/@connections/%E0%A4%A", "dev"), undefined);
});

test("demo files: only inside the demo folder", (t) => {
  const dir = "/srv/demo";
  t.is(demoFile("/", dir), join(dir, "index.html"));
  t.is(demoFile("/index.html", dir), join(dir, "index.html"));
  t.is(demoFile("/demo/app.js", dir), join(dir, "app.js"));
  t.is(demoFile("/demo/img/logo.png", dir), join(dir, "img/logo.png"));
  for (const path of ["/demo/../secret", "/demo/%2e%2e/secret", "/demo/..%2fsecret", "/demo/", "/demo/a%00b", "/other.html", "/demo/%zz"]) {
    t.is(demoFile(path, dir), undefined, path);
  }
});

test("limiter: never more than `max` tasks at once, all of them run, in arrival order", async (t) => {
  const limiter = createLimiter(3);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      limiter.run(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        return i * 2;
      }),
    ),
  );
  t.is(peak, 3);
  t.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.deepEqual(results, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  await t.throwsAsync(limiter.run(() => Promise.reject(new Error("task failed"))), { message: "task failed" });
  t.is(await limiter.run(() => Promise.resolve("slot freed after a failure")), "slot freed after a failure");
});

test("a bad emulator option is a ConfigError naming it, before anything starts", async (t) => {
  await t.throwsAsync(startEmulator({ port: 0, fanOutConcurrency: 0 }), { name: "ConfigError", message: /^fanOutConcurrency: must be an integer from 1 to 1024/ });
});
