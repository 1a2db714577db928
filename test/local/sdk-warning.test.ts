/**
 * `npm test` output: the AWS SDK's 9-line `NodeVersionSupportWarning` (printed once by each
 * process that builds a client on Node < 22) stays out of it. The ava config sets the SDK's own
 * switch in the test processes' environment, and every process a test starts inherits it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import test from "ava";

// A process like those the tests start (the emulator, the CLIs), building the clients this project
// uses as it would on Node 20, which the project supports (`engines`) and the SDK warns about.
const SDK_USER = `
Object.defineProperty(process, "version", { value: "v20.19.0" });
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { SQSClient } = require("@aws-sdk/client-sqs");
const { ApiGatewayManagementApiClient } = require("@aws-sdk/client-apigatewaymanagementapi");
for (const Client of [DynamoDBClient, SQSClient, ApiGatewayManagementApiClient]) new Client({ region: "us-east-1" });
console.log("clients built");
`;

const SWITCH = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";

async function warningsPrinted(env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["-e", SDK_USER], { env });
  if (stdout !== "clients built\n") throw new Error(`unexpected output: ${stdout}`);
  return stderr.split("NodeVersionSupportWarning").length - 1;
}

test("a process started by a test prints the SDK's Node version warning 0 times; without the switch, once", async (t) => {
  t.is(process.env[SWITCH], "true", "the ava config sets it for the test processes");
  t.is(await warningsPrinted(process.env), 0);
  const withoutSwitch = { ...process.env };
  delete withoutSwitch[SWITCH];
  t.is(await warningsPrinted(withoutSwitch), 1, "the SDK warns once per process: the count above would have seen it");
});
