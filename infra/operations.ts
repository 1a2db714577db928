/**
 * The operations view (config `monitoring`): one CloudWatch dashboard of the WebSocket API and
 * the functions, and alarms on function errors and throttles (and, in sharded mode, on shard jobs
 * in the dead-letter queue), built with awsx classic's metric helpers. Alarms notify
 * `alarmEmail` through an SNS topic when it is set.
 */
import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { functionNames, stackNames, type FunctionKey } from "./names";

const cloudwatch = awsx.classic.cloudwatch;
const lambdaMetrics = awsx.classic.lambda.metrics;

// WebSocket API metrics, by ApiId and Stage, summed per period.
const TRAFFIC_METRICS = ["ConnectCount", "MessageCount"];
const ERROR_METRICS = ["IntegrationError", "ClientError", "ExecutionError"];

type LambdaMetric = typeof lambdaMetrics.errors;

export interface OperationsArgs {
  apiId: pulumi.Input<string>;
  stageName: pulumi.Input<string>;
  /** By label: the three routes, and `shards` in sharded mode. */
  functions: Partial<Record<FunctionKey, aws.lambda.Function>>;
  /** Sharded mode: any message here is a shard that never got delivered. */
  deadLetterQueue?: aws.sqs.Queue;
  alarmEmail?: string;
}

export function createOperations(name: string, args: OperationsArgs, parent: pulumi.Resource): void {
  createDashboard(name, args, parent);
  const actions = args.alarmEmail === undefined ? [] : [emailTopic(name, args.alarmEmail, parent).arn];
  for (const kind of ["errors", "throttles"] as const) {
    for (const [route, fn] of monitored(args.functions)) {
      lambdaMetrics[kind]({ function: fn, statistic: "Sum", period: 300 }).createAlarm(
        functionNames(name, route)[kind],
        // Any error or throttle in five minutes; no invocations means nothing failed.
        { threshold: 1, evaluationPeriods: 1, treatMissingData: "notBreaching", alarmActions: actions, okActions: actions },
        { parent },
      );
    }
  }
  if (args.deadLetterQueue) deadLetterAlarm(name, args.deadLetterQueue, actions, parent);
}

function createDashboard(name: string, args: OperationsArgs, parent: pulumi.Resource): void {
  const apiMetric = (metricName: string) =>
    new cloudwatch.Metric({
      namespace: "AWS/ApiGateway",
      name: metricName,
      dimensions: { ApiId: args.apiId, Stage: args.stageName },
      statistic: "Sum",
      label: metricName,
    });
  const perFunction = (metric: LambdaMetric, change: awsx.classic.lambda.metrics.LambdaMetricChange) =>
    monitored(args.functions).map(([route, fn]) => metric({ function: fn, label: route, ...change }));

  new cloudwatch.Dashboard(
    stackNames(name).dashboard,
    {
      widgets: [
        new cloudwatch.RowWidget(
          new cloudwatch.LineGraphMetricWidget({ title: "Connections and messages", metrics: TRAFFIC_METRICS.map(apiMetric) }),
          new cloudwatch.LineGraphMetricWidget({ title: "API errors", metrics: ERROR_METRICS.map(apiMetric) }),
        ),
        new cloudwatch.RowWidget(
          new cloudwatch.LineGraphMetricWidget({ title: "Lambda errors", metrics: perFunction(lambdaMetrics.errors, { statistic: "Sum" }) }),
          new cloudwatch.LineGraphMetricWidget({ title: "Lambda throttles", metrics: perFunction(lambdaMetrics.throttles, { statistic: "Sum" }) }),
          new cloudwatch.LineGraphMetricWidget({ title: "Lambda duration p99 (ms)", metrics: perFunction(lambdaMetrics.duration, { extendedStatistic: 99 }) }),
        ),
      ],
    },
    { parent },
  );
}

// Sharded mode: any message on the dead-letter queue is a shard that never got delivered.
function deadLetterAlarm(name: string, queue: aws.sqs.Queue, actions: pulumi.Output<string>[], parent: pulumi.Resource): void {
  new aws.cloudwatch.MetricAlarm(
    stackNames(name).deadLetterAlarm,
    {
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: queue.name },
      statistic: "Maximum",
      period: 300,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
    },
    { parent },
  );
}

function monitored(functions: OperationsArgs["functions"]): Array<[FunctionKey, aws.lambda.Function]> {
  return Object.entries(functions) as Array<[FunctionKey, aws.lambda.Function]>;
}

// The subscriber must confirm the email AWS sends before alarms reach them.
function emailTopic(name: string, email: string, parent: pulumi.Resource): aws.sns.Topic {
  const topic = new aws.sns.Topic(stackNames(name).alarmTopic, {}, { parent });
  new aws.sns.TopicSubscription(`${name}-alarms-email`, { topic: topic.arn, protocol: "email", endpoint: email }, { parent });
  return topic;
}
