import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from './clients/dynamodb';
import { VERIFIED } from '../domain/history';

/**
 * The deployer's single table. Items per gateway share the partition `GATEWAY#<name>`:
 * `CURRENT` holds the version the last applied run left (written by RecordDeployment, or by Notify for a run that
 * applied and then failed; read by Preflight, the release trigger and `status`).
 */
export const gatewayPartition = (gateway: string): string => `GATEWAY#${gateway}`;
export const CURRENT_SORT_KEY = 'CURRENT';

export async function readDeployedVersion(tableName: string, gateway: string): Promise<string | null> {
  return (await readDeployment(tableName, gateway))?.version ?? null;
}

/**
 * The CURRENT item: the version the last applied run left on the cluster, the sha256 of its bundle, and whether it
 * was verified (items written before verification was recorded were written only by verified runs).
 */
export async function readDeployment(tableName: string, gateway: string): Promise<{ version: string; bundleSha256?: string; verification: string } | null> {
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
  return { version, ...(sha ? { bundleSha256: sha } : {}), verification: out.Item?.verification?.S ?? VERIFIED };
}
