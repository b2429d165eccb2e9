import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from './aws';

/**
 * The deployer's single table. Items per gateway share the partition `GATEWAY#<name>`:
 * `CURRENT` holds the last deployed version (written by RecordDeployment, read by Preflight).
 */
export const gatewayPartition = (gateway: string): string => `GATEWAY#${gateway}`;
export const CURRENT_SORT_KEY = 'CURRENT';

export async function readDeployedVersion(tableName: string, gateway: string): Promise<string | null> {
  const out = await dynamodb.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: gatewayPartition(gateway) }, sk: { S: CURRENT_SORT_KEY } },
      ConsistentRead: true,
    }),
  );
  return out.Item?.version?.S ?? null;
}
