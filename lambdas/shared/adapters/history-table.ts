import { PutItemCommand, TransactWriteItemsCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DeploymentRecord } from '../domain/history';
import { dynamodb } from './clients/dynamodb';
import { CURRENT_SORT_KEY, gatewayPartition } from './deployment-table';
import { VERIFIED } from '../domain/history';

/** History items sort by start time under the gateway: `RUN#<startedAt>#<execution>`. */
export const historySortKey = (r: Pick<DeploymentRecord, 'startedAt' | 'executionName'>) => `RUN#${r.startedAt}#${r.executionName}`;

function item(record: DeploymentRecord): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = { pk: { S: gatewayPartition(record.gateway) }, sk: { S: historySortKey(record) } };
  for (const [k, v] of Object.entries(record)) if (v !== '') out[k] = { S: v };
  return out;
}

/**
 * A run that applied its plan: its history item and the new CURRENT item, both or neither. CURRENT is what the
 * cluster now runs, verified or not: `verification` is "verified", or "not verified: <why>" for a run that applied
 * and then failed (Verify, EvaluateVerification, ...). Preflight, drift checks and `status` compare against it.
 */
export async function recordDeployment(table: string, record: DeploymentRecord, verification: string): Promise<void> {
  await dynamodb.send(
    new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: table, Item: item(record) } },
        {
          Put: {
            TableName: table,
            Item: {
              pk: { S: gatewayPartition(record.gateway) },
              sk: { S: CURRENT_SORT_KEY },
              version: { S: record.toVersion },
              deployedAt: { S: record.finishedAt },
              executionArn: { S: record.executionArn },
              bundleSha256: { S: record.bundleSha256 },
              verification: { S: verification },
              ...(record.agentVersion ? { agentVersion: { S: record.agentVersion } } : {}),
              ...(record.warnings ? { warnings: { S: record.warnings } } : {}),
            },
          },
        },
      ],
    }),
  );
}

/** A verified run. */
export const recordSuccess = (table: string, record: DeploymentRecord): Promise<void> => recordDeployment(table, record, VERIFIED);

/** One history item, without touching the last deployed version: failed runs, and operations that deploy nothing. */
export async function recordRun(table: string, record: DeploymentRecord): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: table, Item: item(record) }));
}
