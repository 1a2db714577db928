/**
 * A document client against a local DynamoDB that asks for ConsumedCapacity on every call and sums
 * it, with a count of the calls: what the rooms and history benchmarks charge each step with.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_AWS } from "../../local/services/dynalite-store";

interface Meter {
  /** Capacity units (read or write) charged since the last `take`, and the calls that charged them. */
  take(): { units: number; calls: Record<string, number> };
}

/** A document client that asks DynamoDB for ConsumedCapacity on every call and sums it. */
export function meteredClient(endpoint: string): { doc: DynamoDBDocumentClient; meter: Meter; destroy: () => void } {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  const doc = DynamoDBDocumentClient.from(client);
  let units = 0;
  let calls: Record<string, number> = {};
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = "TOTAL";
      // Counted whether it succeeds or not: a conditional put that loses is a call (and, on AWS, a write unit) too.
      const command = context.commandName ?? "unknown";
      calls[command] = (calls[command] ?? 0) + 1;
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity;
      units += consumed?.CapacityUnits ?? 0;
      return result;
    },
    { step: "initialize", name: "meterReadUnits" },
  );
  return {
    doc,
    meter: {
      take() {
        const taken = { units, calls };
        units = 0;
        calls = {};
        return taken;
      },
    },
    destroy: () => client.destroy(),
  };
}

