import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from './clients/dynamodb';

/**
 * The deployer's single table. Items per gateway share the partition `GATEWAY#<name>`:
 * `CURRENT` holds the last deployed version (written by RecordDeployment, read by Preflight).
 */
export const gatewayPartition = (gateway: string): string => `GATEWAY#${gateway}`;
export const CURRENT_SORT_KEY = 'CURRENT';

export async function readDeployedVersion(tableName: string, gateway: string): Promise<string | null> {
  return (await readDeployment(tableName, gateway))?.version ?? null;
}

/** The CURRENT item: the last deployed version and the sha256 of its bundle, or null before the first install. */
export async function readDeployment(tableName: string, gateway: string): Promise<{ version: string; bundleSha256?: string } | null> {
  const out = await dynamodb.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: gatewayPartition(gateway) }, sk: { S: CURRENT_SORT_KEY } },
      ConsistentRead: true,
    }),
  );
  const version = out.Item?.version?.S;
  if (!version) return null;
  const sha = out.Item?.bundleSha256?.S;
  return { version, ...(sha ? { bundleSha256: sha } : {}) };
}
