/** The stack's dashboard and alarms under Pulumi's mocks, with the default config. */
import test from "ava";
import { runProgram } from "../../harness/program-run";
import { MOCK_REGION } from "../../harness/pulumi-mocks";
import { FUNCTIONS, once, one } from "../helpers/report";

const defaults = once(() => runProgram());

test("monitoring: a dashboard of API and per-function metrics, alarms on errors and throttles", async (t) => {
  const report = await defaults();
  const apiId = one(report, "aws:apigatewayv2/api:Api", "message-broadcast-dev-api").id;
  const dashboard = one(report, "aws:cloudwatch/dashboard:Dashboard", "message-broadcast-dev-dashboard");
  t.is(dashboard.inputs.dashboardName, "message-broadcast-dev-dashboard");
  const body = JSON.parse(String(dashboard.inputs.dashboardBody)) as { widgets: Array<{ properties: { title: string; region: string; metrics: unknown[][] } }> };
  const graphs = Object.fromEntries(
    body.widgets.map(({ properties }) => [
      properties.title,
      properties.metrics.map((metric) => {
        const options = metric.at(-1);
        const stat = typeof options === "object" && options !== null && "stat" in options ? options.stat : undefined;
        return `${metric.slice(0, -1).join(" ")} ${String(stat)}`;
      }),
    ]),
  );
  const api = (name: string) => `AWS/ApiGateway ${name} ApiId ${apiId} Stage dev Sum`;
  const perFunction = (metric: string, stat: string) => FUNCTIONS.map((fn) => `AWS/Lambda ${metric} FunctionName message-broadcast-dev-${fn} ${stat}`);
  t.deepEqual(graphs, {
    "Connections and messages": [api("ConnectCount"), api("MessageCount")],
    "API errors": [api("IntegrationError"), api("ClientError"), api("ExecutionError")],
    "Lambda errors": perFunction("Errors", "Sum"),
    "Lambda throttles": perFunction("Throttles", "Sum"),
    "Lambda duration p99 (ms)": perFunction("Duration", "p99"),
  });
  t.true(body.widgets.every(({ properties }) => properties.region === MOCK_REGION));

  for (const route of FUNCTIONS) {
    for (const [kind, metricName] of [
      ["errors", "Errors"],
      ["throttles", "Throttles"],
    ]) {
      t.like(one(report, "aws:cloudwatch/metricAlarm:MetricAlarm", `message-broadcast-dev-${route}-${kind}`).inputs, {
        namespace: "AWS/Lambda",
        metricName,
        dimensions: { FunctionName: `message-broadcast-dev-${route}` },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [],
      });
    }
  }
});
