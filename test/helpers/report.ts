/** Reading a ProgramReport: find resources, parse their policies. */
import type { ExecutionContext } from "ava";
import type { ProgramReport, ReportedResource } from "../../harness/program-run";

export const COMPONENT = "message-broadcast:index:BroadcastApi";

/** A customer-managed key ARN in the tests' region (ap-northeast-2). */
export const KMS_KEY = "arn:aws:kms:ap-northeast-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** Stack config with every option that adds a resource or a setting on, in `fanout` mode. */
export function everythingOn(fanout: string): Record<string, string> {
  return {
    fanout,
    alarmEmail: "ops@example.com",
    accessLogging: "true",
    apiGatewayCloudWatchRole: "true",
    shardWorkerReservedConcurrency: "true",
    tableKmsKeyArn: KMS_KEY,
    history: "true",
  };
}

/** Function suffix and API Gateway route key of each route. */
export const ROUTES = [
  ["connect", "$connect"],
  ["disconnect", "$disconnect"],
  ["default", "$default"],
] as const;

/** Every function's name suffix: the three routes', then publish's. */
export const FUNCTIONS = [...ROUTES.map(([route]) => route), "publish"];

/** Runs the program once per config set, on first use; the tests of a file share the result. */
export function once(run: () => Promise<ProgramReport>): () => Promise<ProgramReport> {
  let report: Promise<ProgramReport> | undefined;
  return () => (report ??= run());
}

export function all(report: ProgramReport, type: string): ReportedResource[] {
  return report.resources.filter((resource) => resource.type === type);
}

export function one(report: ProgramReport, type: string, name: string): ReportedResource {
  const found = report.resources.find((resource) => resource.type === type && resource.name === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}

/** How many resources of each type the program registered. */
export function countByType(report: ProgramReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { type } of report.resources) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

export function succeeded(t: ExecutionContext, report: ProgramReport): void {
  t.is(report.error, undefined, report.error?.message);
}

export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: string | string[];
  Principal?: unknown;
  /** Operator → condition key → value(s). */
  Condition?: Record<string, Record<string, unknown>>;
}

export function parsePolicy(text: unknown): { Version: string; Statement: PolicyStatement[] } {
  if (typeof text !== "string") throw new Error(`policy is not JSON text: ${JSON.stringify(text)}`);
  return JSON.parse(text) as { Version: string; Statement: PolicyStatement[] };
}

/** IAM allows a single string or a list for Action and Resource. */
export function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
