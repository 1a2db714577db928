import { createServer } from "node:http";
import test from "ava";
import { closeServer, listen } from "../../local/net/http";
import { LOCAL_AWS } from "../../local/services/dynalite-store";
import { createPosterFactory } from "../../runtime/delivery/poster-factory";

// An HTTP endpoint that answers each POST with the next scripted status, counting requests.
async function scripted(t: import("ava").ExecutionContext, statuses: Array<[number, string?]>) {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const [status, errorType] = statuses[Math.min(requests++, statuses.length - 1)];
      res.writeHead(status, { "content-type": "application/json", ...(errorType ? { "x-amzn-ErrorType": errorType } : {}) });
      res.end(status === 200 ? "" : JSON.stringify({ message: errorType ?? "error" }));
    });
  });
  const port = await listen(server, 0, "127.0.0.1");
  t.teardown(() => closeServer(server));
  const poster = createPosterFactory({ ...LOCAL_AWS, maxSockets: 4 })(`http://127.0.0.1:${port}/dev`);
  return { poster, requests: () => requests };
}

const payload = Buffer.from("{}");

test("post retries: throttled posts are retried until they get through", async (t) => {
  const { poster, requests } = await scripted(t, [[429, "LimitExceededException"], [429, "LimitExceededException"], [429, "LimitExceededException"], [429, "LimitExceededException"], [200]]);
  t.deepEqual(await poster.post("id", payload), { outcome: "delivered" });
  t.is(requests(), 5);
});

test("post retries: a 5xx gets three attempts in all, then fails without deleting", async (t) => {
  const { poster, requests } = await scripted(t, [[500, "InternalServerErrorException"]]);
  t.deepEqual(await poster.post("id", payload), { outcome: "failed", reason: "InternalServerErrorException" });
  t.is(requests(), 3);
});

test("post retries: GoneException is final at once", async (t) => {
  const { poster, requests } = await scripted(t, [[410, "GoneException"]]);
  t.deepEqual(await poster.post("id", payload), { outcome: "gone" });
  t.is(requests(), 1);
});
