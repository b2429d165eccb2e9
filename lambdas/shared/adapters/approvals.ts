import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamodb } from './clients/dynamodb';

/**
 * Pending approvals, one item per execution (`EXECUTION#<name>` / `APPROVAL`). The task token lives only here
 * (the table is KMS-encrypted): whoever holds it can answer for the run, so it is never put in a message.
 */

export const approvalKey = (executionName: string) => ({ pk: { S: `EXECUTION#${executionName}` }, sk: { S: 'APPROVAL' } });

export interface PendingApproval {
  readonly executionName: string;
  readonly executionArn: string;
  readonly gateway: string;
  readonly taskToken: string;
  readonly requestedAt: string;
  /** Epoch seconds; the table's TTL removes the item a day after the approval would have timed out. */
  readonly expiresAt: number;
}

export interface StoredApproval extends PendingApproval {
  readonly status: 'pending' | 'approved' | 'rejected' | 'expired';
  readonly decidedBy?: string;
  readonly reason?: string;
  readonly decidedAt?: string;
}

export async function storePendingApproval(table: string, a: PendingApproval): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        ...approvalKey(a.executionName),
        executionArn: { S: a.executionArn },
        gateway: { S: a.gateway },
        taskToken: { S: a.taskToken },
        status: { S: 'pending' },
        requestedAt: { S: a.requestedAt },
        expiresAt: { N: String(a.expiresAt) },
      },
    }),
  );
}

export async function readApproval(table: string, executionName: string): Promise<StoredApproval | null> {
  const out = await dynamodb.send(new GetItemCommand({ TableName: table, Key: approvalKey(executionName), ConsistentRead: true }));
  const i = out.Item;
  if (!i) return null;
  return {
    executionName,
    executionArn: i.executionArn?.S ?? '',
    gateway: i.gateway?.S ?? '',
    taskToken: i.taskToken?.S ?? '',
    requestedAt: i.requestedAt?.S ?? '',
    expiresAt: Number(i.expiresAt?.N ?? 0),
    status: (i.status?.S ?? 'pending') as StoredApproval['status'],
    ...(i.decidedBy?.S ? { decidedBy: i.decidedBy.S } : {}),
    ...(i.reason?.S ? { reason: i.reason.S } : {}),
    ...(i.decidedAt?.S ? { decidedAt: i.decidedAt.S } : {}),
  };
}

/**
 * Records the decision once: a second approve or reject of the same run is refused (returns false). The token
 * stays until the answer is delivered (forgetToken), so a failed delivery can be retried (revertDecision).
 */
export async function recordDecision(
  table: string,
  executionName: string,
  decision: { status: 'approved' | 'rejected'; decidedBy: string; reason: string; decidedAt: string },
): Promise<boolean> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: approvalKey(executionName),
        UpdateExpression: 'SET #s = :s, decidedBy = :by, reason = :r, decidedAt = :at',
        ConditionExpression: '#s = :pending',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':s': { S: decision.status },
          ':by': { S: decision.decidedBy },
          ':r': { S: decision.reason },
          ':at': { S: decision.decidedAt },
          ':pending': { S: 'pending' },
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

/** After the run received the answer: the token is of no further use, and nobody should be able to read it. */
export async function forgetToken(table: string, executionName: string): Promise<void> {
  await dynamodb.send(new UpdateItemCommand({ TableName: table, Key: approvalKey(executionName), UpdateExpression: 'REMOVE taskToken' }));
}

/** The answer could not be delivered: back to pending (or to expired, when the run no longer waits). */
export async function revertDecision(table: string, executionName: string, to: 'pending' | 'expired'): Promise<void> {
  await dynamodb.send(
    new UpdateItemCommand({
      TableName: table,
      Key: approvalKey(executionName),
      UpdateExpression: to === 'pending' ? 'SET #s = :to REMOVE decidedBy, reason, decidedAt' : 'SET #s = :to REMOVE taskToken',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':to': { S: to } },
    }),
  );
}
