/**
 * The Pulumi program: one message-broadcast backend per stack. Config is read and validated
 * once, before any resource is declared; names derive from `${project}-${stack}`.
 */
import * as pulumi from "@pulumi/pulumi";
import { BroadcastApi } from "./infra/broadcast-api";
import { checkTableKeyRegion, readStackConfig } from "./infra/config";

const { namePrefix, ...stackConfig } = readStackConfig(new pulumi.Config(), { project: pulumi.getProject(), stack: pulumi.getStack() });
checkTableKeyRegion(pulumi.getProject(), stackConfig.tableKmsKeyArn, new pulumi.Config("aws").get("region"));
const broadcast = new BroadcastApi(namePrefix, stackConfig);

export const endpoint = broadcast.endpoint;
export const managementEndpoint = broadcast.managementEndpoint;
export const tableName = broadcast.tableName;
export const apiId = broadcast.apiId;
export const stage = broadcast.stage;
export const publishUrl = broadcast.publishUrl;
