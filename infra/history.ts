/**
 * History (config `history: true`): the table of every room's numbered messages, with the schema
 * the runtime and the emulator share (runtime/store/history-table.ts). None of it exists otherwise.
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { HISTORY_TABLE } from "../runtime/store/history-table";
import type { StackConfig } from "./config";
import { stackNames } from "./names";

export function createHistoryTable(
  name: string,
  stack: Pick<StackConfig, "tableKmsKeyArn" | "tableDeletionProtection" | "retainTable">,
  parent: pulumi.Resource,
): aws.dynamodb.Table {
  return new aws.dynamodb.Table(
    stackNames(name).historyTable,
    {
      attributes: [
        { name: HISTORY_TABLE.hashKey, type: HISTORY_TABLE.hashKeyType },
        { name: HISTORY_TABLE.rangeKey, type: HISTORY_TABLE.rangeKeyType },
      ],
      hashKey: HISTORY_TABLE.hashKey,
      rangeKey: HISTORY_TABLE.rangeKey,
      billingMode: "PAY_PER_REQUEST",
      // Deletes lazily (within days): reads skip what is past its expiry themselves.
      ttl: { attributeName: HISTORY_TABLE.ttlAttribute, enabled: true },
      // The connections table's settings: the same key, protection and retention.
      ...(stack.tableKmsKeyArn ? { serverSideEncryption: { enabled: true, kmsKeyArn: stack.tableKmsKeyArn } } : {}),
      deletionProtectionEnabled: stack.tableDeletionProtection,
    },
    { parent, retainOnDelete: stack.retainTable },
  );
}
