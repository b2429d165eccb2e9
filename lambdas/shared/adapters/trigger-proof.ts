import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { TRIGGER_PARTITION_PREFIX } from '../domain/release-trigger';
import { dynamodb } from './clients/dynamodb';

/**
 * The release trigger's proof that it started a run: an item `TRIGGER#<execution name>` / `S3` naming the uploaded
 * object, written before StartExecution. Only the release trigger's role may write TRIGGER# keys (the table's
 * resource policy), so a run whose input claims `"trigger": "s3"` without this item was typed by someone else.
 */

export interface TriggerProof {
  readonly bundleKey: string;
  readonly versionId?: string;
}

const key = (executionName: string) => ({ pk: { S: `${TRIGGER_PARTITION_PREFIX}${executionName}` }, sk: { S: 'S3' } });

export async function writeTriggerProof(table: string, executionName: string, proof: TriggerProof, expiresAt: number): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        ...key(executionName),
        bundleKey: { S: proof.bundleKey },
        ...(proof.versionId ? { versionId: { S: proof.versionId } } : {}),
        expiresAt: { N: String(expiresAt) },
      },
    }),
  );
}

export async function readTriggerProof(table: string, executionName: string): Promise<TriggerProof | null> {
  const out = await dynamodb.send(new GetItemCommand({ TableName: table, Key: key(executionName), ConsistentRead: true }));
  if (!out.Item) return null;
  return { bundleKey: out.Item.bundleKey?.S ?? '', ...(out.Item.versionId?.S ? { versionId: out.Item.versionId.S } : {}) };
}
