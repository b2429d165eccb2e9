import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { isNotFound } from './aws';
import { dynamodb } from './clients/dynamodb';
import { s3 } from './clients/s3';
import { parseLockInfo, type TerraformLockInfo } from '../domain/run-end';

// Notify imports this module too: no Step Functions client here (execution-history.ts has RunEnded's), so Notify's
// cold start does not load the Step Functions SDK.

/** The Terraform backend of the gateway (resolveBackend at synth). */
export interface TerraformBackend {
  readonly bucket: string;
  readonly key: string;
  readonly useLockfile: boolean;
  /** backend.dynamodbTable: Terraform's older lock table, keyed `<bucket>/<key>`. */
  readonly lockTable?: string;
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

