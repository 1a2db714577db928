/**
 * API Gateway's CloudWatch Logs role (config `apiGatewayCloudWatchRole: true`): an account-wide,
 * per-region setting that the access logs of every API there use, created here once.
 */
import * as aws from "@pulumi/aws";
import { stackNames } from "./names";
import type * as pulumi from "@pulumi/pulumi";

/** The AWS managed policy API Gateway's documentation names for this role. */
const PUSH_TO_CLOUDWATCH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs";

const ASSUMED_BY_API_GATEWAY = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }],
});

/**
 * The role and the account setting naming it; the stage must depend on the returned setting.
 * Destroying an `aws.apigateway.Account` resets the account's role to none (terraform-provider-aws
 * v6, which pulumi-aws 7 wraps, hashicorp/terraform-provider-aws#42226), which would stop the
 * access logs of every other API in the region: `pulumi destroy` leaves all three in place.
 */
export function createApiGatewayCloudWatchRole(name: string, parent: pulumi.Resource): aws.apigateway.Account {
  const retained = { parent, retainOnDelete: true };
  const role = new aws.iam.Role(stackNames(name).apiGatewayLogsRole, { assumeRolePolicy: ASSUMED_BY_API_GATEWAY }, retained);
  const attachment = new aws.iam.RolePolicyAttachment(`${name}-apigw-logs-policy`, { role: role.name, policyArn: PUSH_TO_CLOUDWATCH_LOGS }, retained);
  return new aws.apigateway.Account(`${name}-apigw-account`, { cloudwatchRoleArn: role.arn }, { ...retained, dependsOn: [attachment] });
}
