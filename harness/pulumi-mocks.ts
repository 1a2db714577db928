/**
 * Pulumi unit-test mocks that answer the way AWS would (ids, ARNs, endpoints derived from the
 * inputs) and record every resource and invoke the program makes.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export const MOCK_REGION = "ap-northeast-2";
export const MOCK_ACCOUNT = "123456789012";

export interface RecordedResource {
  type: string;
  name: string;
  id: string;
  /** With secrets revealed; `secretInputs` says where they were. */
  inputs: Record<string, unknown>;
  /** Paths of input values that arrived as secrets, e.g. `environment`. */
  secretInputs: string[];
  state: Record<string, unknown>;
}

export interface RecordingMocks {
  mocks: pulumi.runtime.Mocks;
  resources: RecordedResource[];
  calls: string[];
}

const shortHash = (text: string, length: number) => createHash("sha1").update(text).digest("hex").slice(0, length);

// Pulumi's auto-naming: the logical name plus a random suffix (deterministic here).
const autoName = (name: string) => `${name}-${shortHash(name, 7)}`;

function stringInput(inputs: Record<string, unknown>, key: string): string | undefined {
  const value = inputs[key];
  return typeof value === "string" ? value : undefined;
}

/** The id and output state AWS would report for a new resource of `type`. */
function mockState(type: string, name: string, inputs: Record<string, unknown>): { id: string; state: Record<string, unknown> } {
  const physical = stringInput(inputs, "name") ?? autoName(name);
  const at = `${MOCK_REGION}:${MOCK_ACCOUNT}`;
  switch (type) {
    case "aws:dynamodb/table:Table":
      return { id: physical, state: { ...inputs, name: physical, arn: `arn:aws:dynamodb:${at}:table/${physical}` } };
    case "aws:apigatewayv2/api:Api": {
      const id = shortHash(name, 10);
      return {
        id,
        state: {
          ...inputs,
          name: physical,
          apiEndpoint: `wss://${id}.execute-api.${MOCK_REGION}.amazonaws.com`,
          executionArn: `arn:aws:execute-api:${at}:${id}`,
          arn: `arn:aws:apigateway:${MOCK_REGION}::/apis/${id}`,
        },
      };
    }
    case "aws:lambda/function:Function": {
      const arn = `arn:aws:lambda:${at}:function:${physical}`;
      const invokeArn = `arn:aws:apigateway:${MOCK_REGION}:lambda:path/2015-03-31/functions/${arn}/invocations`;
      return { id: physical, state: { ...inputs, name: physical, arn, invokeArn } };
    }
    case "aws:lambda/functionUrl:FunctionUrl": {
      const urlId = shortHash(name, 32);
      return { id: stringInput(inputs, "functionName") ?? name, state: { ...inputs, urlId, functionUrl: `https://${urlId}.lambda-url.${MOCK_REGION}.on.aws/` } };
    }
    case "aws:cloudwatch/logGroup:LogGroup":
      return { id: physical, state: { ...inputs, name: physical, arn: `arn:aws:logs:${at}:log-group:${physical}` } };
    case "aws:iam/role:Role":
      return { id: physical, state: { ...inputs, name: physical, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${physical}` } };
    case "aws:sns/topic:Topic":
      return { id: `arn:aws:sns:${at}:${physical}`, state: { ...inputs, name: physical, arn: `arn:aws:sns:${at}:${physical}` } };
    case "aws:sqs/queue:Queue": {
      const url = `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${physical}`;
      return { id: url, state: { ...inputs, name: physical, url, arn: `arn:aws:sqs:${at}:${physical}` } };
    }
    case "aws:apigatewayv2/stage:Stage":
      return { id: physical, state: { ...inputs, name: physical } };
    default:
      return { id: shortHash(`${type}::${name}`, 7), state: { ...inputs } };
  }
}

const CALL_RESULTS: Record<string, Record<string, unknown>> = {
  "aws:index/getRegion:getRegion": { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION, description: "Asia Pacific (Seoul)", endpoint: `ec2.${MOCK_REGION}.amazonaws.com` },
  "aws:index/getCallerIdentity:getCallerIdentity": {
    id: MOCK_ACCOUNT,
    accountId: MOCK_ACCOUNT,
    arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/deployer`,
    userId: "AIDAEXAMPLE",
  },
  "aws:index/getPartition:getPartition": { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" },
};

// Plain objects only: assets, archives and resource references pass through untouched.
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

// Mocks receive secrets wrapped as {<sig key>: <secret sig>, value}; unwrap them, noting where.
function revealSecrets(value: unknown, path: string, found: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => revealSecrets(item, `${path}[${index}]`, found));
  if (!isRecord(value)) return value;
  if (value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) {
    found.push(path);
    return revealSecrets(value.value, path, found);
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, revealSecrets(item, path ? `${path}.${key}` : key, found)]));
}

export function createRecordingMocks(): RecordingMocks {
  const resources: RecordedResource[] = [];
  const calls: string[] = [];
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const secretInputs: string[] = [];
      const inputs = revealSecrets({ ...args.inputs }, "", secretInputs);
      if (!isRecord(inputs)) throw new Error("inputs are not an object");
      const { id, state } = mockState(args.type, args.name, inputs);
      resources.push({ type: args.type, name: args.name, id, inputs, secretInputs, state });
      return { id, state };
    },
    call(args) {
      calls.push(args.token);
      const result = CALL_RESULTS[args.token];
      // An invoke nobody expected must fail the run, not quietly return nothing.
      if (!result) throw new Error(`unexpected invoke ${args.token}`);
      return result;
    },
  };
  return { mocks, resources, calls };
}
