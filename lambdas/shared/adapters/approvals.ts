import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DECISION_PARTITION_PREFIX, type DecisionRecord, type DecisionStatus } from '../domain/decision';
import { dynamodb } from './clients/dynamodb';

/**
 * The approval items of the deployments table.
 * - Pending approvals, one per round (`EXECUTION#<name>` / `APPROVAL#<round>`), written by RequestApproval: the task
 *   token that wakes the waiting run, and the digest the request showed. The token is no secret (the execution
 *   history holds it too): it approves nothing by itself.
 * - Decisions, one per round (`DECISION#<name>` / `<round>`), written only by the approval function (the table's
 *   resource policy denies every other principal writes to DECISION# keys), each once: never updated or deleted.
 */

export const pendingKey = (executionName: string, round: string) => ({ pk: { S: `EXECUTION#${executionName}` }, sk: { S: `APPROVAL#${round}` } });
export const decisionKey = (executionName: string, round: string) => ({ pk: { S: `${DECISION_PARTITION_PREFIX}${executionName}` }, sk: { S: round } });

export interface PendingApproval {
  readonly executionName: string;
  readonly executionArn: string;
  readonly gateway: string;
  readonly round: string;
  readonly taskToken: string;
  /** The digest the approval request showed: what an approval of this round approves. */
  readonly planSha256: string;
  readonly requestedAt: string;
  /** Epoch seconds; the table's TTL removes the item a day after the approval would have timed out. */
  readonly expiresAt: number;
}

export async function storePendingApproval(table: string, a: PendingApproval): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        ...pendingKey(a.executionName, a.round),
        executionArn: { S: a.executionArn },
        gateway: { S: a.gateway },
        round: { S: a.round },
        taskToken: { S: a.taskToken },
        planSha256: { S: a.planSha256 },
        requestedAt: { S: a.requestedAt },
        expiresAt: { N: String(a.expiresAt) },
      },
    }),
  );
}

const pendingFrom = (executionName: string, i: Record<string, AttributeValue>): PendingApproval => ({
  executionName,
  executionArn: i.executionArn?.S ?? '',
  gateway: i.gateway?.S ?? '',
  round: i.round?.S ?? '',
  taskToken: i.taskToken?.S ?? '',
  planSha256: i.planSha256?.S ?? '',
  requestedAt: i.requestedAt?.S ?? '',
  expiresAt: Number(i.expiresAt?.N ?? 0),
});

/** The round the execution asked about last: the one it waits on, if it waits. */
export async function latestPendingApproval(table: string, executionName: string): Promise<PendingApproval | null> {
  const out = await dynamodb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :approval)',
      ExpressionAttributeValues: { ':pk': { S: `EXECUTION#${executionName}` }, ':approval': { S: 'APPROVAL#' } },
      ConsistentRead: true,
    }),
  );
  const items = (out.Items ?? []).map((i) => pendingFrom(executionName, i));
  items.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  return items.at(-1) ?? null;
}

export async function readDecision(table: string, executionName: string, round: string): Promise<DecisionRecord | null> {
  const out = await dynamodb.send(new GetItemCommand({ TableName: table, Key: decisionKey(executionName, round), ConsistentRead: true }));
  const i = out.Item;
  if (!i) return null;
  return {
    executionName: i.executionName?.S ?? '',
    round: i.round?.S ?? '',
    status: (i.status?.S ?? '') as DecisionStatus,
    approverArn: i.approverArn?.S ?? '',
    reason: i.reason?.S ?? '',
    decidedAt: i.decidedAt?.S ?? '',
    planSha256: i.planSha256?.S ?? '',
  };
}

/** Records a round's decision once; false when the round already has one (nothing is overwritten). */
export async function recordDecision(table: string, d: DecisionRecord): Promise<boolean> {
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          ...decisionKey(d.executionName, d.round),
          executionName: { S: d.executionName },
          round: { S: d.round },
          status: { S: d.status },
          approverArn: { S: d.approverArn },
          reason: { S: d.reason },
          decidedAt: { S: d.decidedAt },
          planSha256: { S: d.planSha256 },
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}
