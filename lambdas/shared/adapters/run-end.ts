import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { isNotFound } from './aws';
import { dynamodb } from './clients/dynamodb';
import { s3 } from './clients/s3';
import { sfn } from './clients/sfn';
import { parseLockInfo, type LastState, type TerraformLockInfo } from '../domain/run-end';
import type { RunState } from '../domain/run-state';

/** The Terraform backend of the gateway (resolveBackend at synth). */
export interface TerraformBackend {
  readonly bucket: string;
  readonly key: string;
  readonly useLockfile: boolean;
  /** backend.dynamodbTable: Terraform's older lock table, keyed `<bucket>/<key>`. */
  readonly lockTable?: string;
}

/** The last state the execution entered, with its input. */
export async function lastState(executionArn: string): Promise<LastState | null> {
  // Newest first: the first state entered is where the run was when it ended.
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, includeExecutionData: true }));
  const entered = (out.events ?? []).find((e) => e.stateEnteredEventDetails?.name);
  if (!entered?.stateEnteredEventDetails?.name) return null;
  let state: RunState = {};
  try {
    state = JSON.parse(entered.stateEnteredEventDetails.input ?? '{}') as RunState;
  } catch {
    // A truncated input: the step's name is still known.
  }
  return { name: entered.stateEnteredEventDetails.name, state };
}

/** Terraform's state lock, if one is held: the S3 lock file (use_lockfile), else the DynamoDB lock item. */
export async function readTerraformLock(backend: TerraformBackend): Promise<TerraformLockInfo | null> {
  if (backend.useLockfile) {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: backend.bucket, Key: `${backend.key}.tflock` }));
      const info = parseLockInfo(await out.Body!.transformToString('utf-8'));
      if (info) return info;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  if (backend.lockTable) {
    const out = await dynamodb.send(new GetItemCommand({ TableName: backend.lockTable, Key: { LockID: { S: `${backend.bucket}/${backend.key}` } }, ConsistentRead: true }));
    return parseLockInfo(out.Item?.Info?.S);
  }
  return null;
}

