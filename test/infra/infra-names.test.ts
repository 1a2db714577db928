/**
 * What a real `pulumi up` refuses and mocks do not: with the longest stack name the config
 * accepts, every physical name (explicit, or Pulumi's auto-name: logical name, "-", 7 random
 * characters) fits AWS's limit for its resource type, in both fan-out modes with every optional
 * resource on, and is one infra/names.ts lists (test/infra/infra-deployer-policy.test.ts checks the deployer policy).
 */
import test from "ava";
import { readStackConfig, type ConfigSource } from "../../infra/config";
import { RESOURCE_NAMES } from "../../infra/names";
import { ConfigError } from "../../runtime/config/checks";
import { MODES } from "../helpers/modes";
import { PROJECT, runProgram, type ReportedResource } from "../../harness/program-run";
import { COMPONENT, everythingOn, once, succeeded } from "../helpers/report";

/** AWS's limit on each resource type's name, and the input that holds it; null: AWS names it. */
const NAME_LIMITS: Record<string, { field: string; limit: number } | null> = {
  "aws:lambda/function:Function": { field: "name", limit: 64 },
  "aws:cloudwatch/logGroup:LogGroup": { field: "name", limit: 512 },
  "aws:iam/role:Role": { field: "name", limit: 64 },
  "aws:iam/rolePolicy:RolePolicy": { field: "name", limit: 128 },
  "aws:lambda/permission:Permission": { field: "statementId", limit: 100 },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { field: "name", limit: 255 },
  "aws:cloudwatch/dashboard:Dashboard": { field: "dashboardName", limit: 255 },
  "aws:dynamodb/table:Table": { field: "name", limit: 255 },
  "aws:apigatewayv2/api:Api": { field: "name", limit: 128 },
  "aws:apigatewayv2/stage:Stage": { field: "name", limit: 128 },
  "aws:sqs/queue:Queue": { field: "name", limit: 80 },
  "aws:sns/topic:Topic": { field: "name", limit: 256 },
  "aws:apigatewayv2/integration:Integration": null,
  "aws:apigatewayv2/route:Route": null,
  "aws:lambda/eventSourceMapping:EventSourceMapping": null,
  // A function URL takes its function's name and has none of its own.
  "aws:lambda/functionUrl:FunctionUrl": null,
  "aws:sns/topicSubscription:TopicSubscription": null,
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment": null,
  "aws:apigateway/account:Account": null,
  [COMPONENT]: null,
};

/** Pulumi's auto-name suffix: "-" and 7 random hex characters. */
const AUTO_SUFFIX = "-abcdef0";

const noConfig: ConfigSource = { name: PROJECT, get: () => undefined, getSecret: () => undefined };
const accepts = (stack: string) => {
  try {
    readStackConfig(noConfig, { project: PROJECT, stack });
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
};

// Found by asking the validation, not by repeating its arithmetic.
let longest = "x";
while (accepts(`${longest}x`)) longest += "x";
const LONGEST_STACK = longest;
const prefix = `${PROJECT}-${LONGEST_STACK}`;

function physicalName(resource: ReportedResource): { name: string; autoNamed: boolean } | undefined {
  const rule = NAME_LIMITS[resource.type];
  if (!rule) return undefined;
  const explicit = resource.inputs[rule.field];
  return typeof explicit === "string" ? { name: explicit, autoNamed: false } : { name: `${resource.name}${AUTO_SUFFIX}`, autoNamed: true };
}

test("the longest accepted stack name is the longest with which every name fits", (t) => {
  t.false(accepts(`${LONGEST_STACK}x`));
  t.is(LONGEST_STACK.length, 22, `"${prefix}" is 40 characters: "-disconnect-role" plus 8 within IAM's 64`);
});

const everything = Object.fromEntries(MODES.map((mode) => [mode, once(() => runProgram({ stack: LONGEST_STACK, config: everythingOn(mode) }))]));

for (const mode of MODES) {
  test(`every name fits its AWS limit with the longest accepted stack name [${mode}]`, async (t) => {
    const report = await everything[mode]();
    succeeded(t, report);
    const listed = new Set(RESOURCE_NAMES.map(({ template, autoNamed }) => `${template.replace("{prefix}", prefix)}${autoNamed ? AUTO_SUFFIX : ""}`));
    let checked = 0;
    for (const resource of report.resources) {
      t.true(resource.type in NAME_LIMITS, `a name limit for ${resource.type} belongs in this test`);
      const physical = physicalName(resource);
      if (!physical) continue;
      const { limit } = NAME_LIMITS[resource.type] ?? { limit: 0 };
      t.true(physical.name.length <= limit, `${resource.type} ${physical.name}: ${physical.name.length} > ${limit}`);
      // The stage is named by stageName (its own rule), not by the prefix.
      if (resource.type !== "aws:apigatewayv2/stage:Stage") t.true(listed.has(physical.name), `${physical.name} is not in infra/names.ts`);
      checked++;
    }
    t.log(`${checked} names checked for stack "${LONGEST_STACK}" (${mode})`);
    t.true(checked >= (mode === "direct" ? 29 : 38), "every function, log group, role, policy, permission, alarm, queue and the rest");
  });

}
