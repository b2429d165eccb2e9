import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { RehearsalReport } from '../../rehearsal/harness';
import { dynamoDbClient } from './aws-clients';

/** The history item (RUN#…) a rehearsed run left for `gateway`, its attributes as strings; undefined if none. */
export async function historyOf(report: RehearsalReport, gateway: string): Promise<Record<string, string> | undefined> {
  const out = await dynamoDbClient().send(
    new QueryCommand({
      TableName: report.resources.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
      ExpressionAttributeValues: { ':pk': { S: `GATEWAY#${gateway}` }, ':run': { S: 'RUN#' } },
    }),
  );
  const item = out.Items?.find((i) => i.executionName?.S === report.executionName);
  return item && Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? JSON.stringify(v)]));
}
