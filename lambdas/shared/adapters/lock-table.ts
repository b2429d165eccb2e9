import { DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from './clients/dynamodb';
import { gatewayPartition } from './deployment-table';
import { LOCK_SORT_KEY, type LockHolder } from '../domain/lock';

/** The lock item `GATEWAY#<name>` / `LOCK`: { executionArn, acquiredAt }. */
const lockKey = (gateway: string) => ({ pk: { S: gatewayPartition(gateway) }, sk: { S: LOCK_SORT_KEY } });

const isConditionFailure = (e: unknown) => (e as Error)?.name === 'ConditionalCheckFailedException';

/**
 * Writes the lock for `holder` if it is free, already ours, or (with `replacing`) still held by exactly that
 * execution. False when another execution holds it (or took it over first).
 */
export async function putLock(table: string, gateway: string, holder: LockHolder, replacing?: string): Promise<boolean> {
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: { ...lockKey(gateway), executionArn: { S: holder.executionArn }, acquiredAt: { S: holder.acquiredAt } },
        ConditionExpression: replacing ? 'executionArn = :old' : 'attribute_not_exists(pk) OR executionArn = :me',
        ExpressionAttributeValues: replacing ? { ':old': { S: replacing } } : { ':me': { S: holder.executionArn } },
      }),
    );
    return true;
  } catch (e) {
    if (isConditionFailure(e)) return false;
    throw e;
  }
}

export async function readLock(table: string, gateway: string): Promise<LockHolder | null> {
  const out = await dynamodb.send(new GetItemCommand({ TableName: table, Key: lockKey(gateway), ConsistentRead: true }));
  if (!out.Item) return null;
  return { executionArn: out.Item.executionArn?.S ?? '', acquiredAt: out.Item.acquiredAt?.S ?? '' };
}

/** Removes the lock only if `executionArn` holds it (the state machine's ReleaseLock does the same directly). */
export async function deleteLock(table: string, gateway: string, executionArn: string): Promise<boolean> {
  try {
    await dynamodb.send(
      new DeleteItemCommand({ TableName: table, Key: lockKey(gateway), ConditionExpression: 'executionArn = :me', ExpressionAttributeValues: { ':me': { S: executionArn } } }),
    );
    return true;
  } catch (e) {
    if (isConditionFailure(e)) return false;
    throw e;
  }
}
