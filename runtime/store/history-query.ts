/**
 * The Query pages a history read takes (runtime/store/history-store.ts answers from them): after
 * `since` ascending, the latest descending, going on past expired items TTL has not deleted yet.
 */
import { QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { HISTORY_TABLE, retained, type HistoryQuery, type Item } from "./history-table";

/** Query pages one read takes at most (a catch-up far behind reads expired items TTL has not deleted yet). */
const MAX_READ_PAGES = 8;

// The latest ones end at the first expired item; after `since`, reading goes on to `wanted` retained ones.
function wantsMore(items: Item[], query: HistoryQuery, wanted: number): boolean {
  const { messages } = retained(items, query);
  return query.since === undefined ? messages.length === items.length && messages.length < wanted : messages.length < wanted;
}

// After `since`: ascending, one more than the limit (to learn whether more follow). Latest:
// descending. Expired items are read and skipped by `retained`, so pages go on to the wanted
// count of retained ones, the partition's end, or MAX_READ_PAGES (`cut`).
export async function queryRoom(doc: DynamoDBDocumentClient, tableName: string, room: string, query: HistoryQuery): Promise<{ items: Item[]; cut: boolean }> {
  const { hashKey, rangeKey, headSeq } = HISTORY_TABLE;
  const wanted = query.since === undefined ? query.limit : query.limit + 1;
  const items: Item[] = [];
  let startKey: Item | undefined;
  let pages = 0;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "#room = :room AND #seq > :after",
        ExpressionAttributeNames: { "#room": hashKey, "#seq": rangeKey },
        ExpressionAttributeValues: { ":room": room, ":after": query.since ?? headSeq },
        ScanIndexForward: query.since !== undefined,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
        Limit: wanted,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
    pages++;
  } while (startKey && pages < MAX_READ_PAGES && wantsMore(items, query, wanted));
  return { items, cut: startKey !== undefined && pages >= MAX_READ_PAGES };
}
