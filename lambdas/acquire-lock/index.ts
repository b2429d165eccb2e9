import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { env } from '../shared/adapters/aws';
import { sfn } from '../shared/adapters/clients/sfn';
import { putLock, readLock } from '../shared/adapters/lock-table';
import { logger } from '../shared/adapters/logger';
import type { ExecutionStatus } from '../shared/domain/lock';
import { acquireLock, type AcquireLockEvent, type LockResult } from './acquire';

const table = env('DEPLOYMENTS_TABLE');

async function executionStatus(executionArn: string): Promise<ExecutionStatus> {
  try {
    const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return (out.status ?? 'MISSING') as ExecutionStatus;
  } catch (e) {
    if ((e as Error).name === 'ExecutionDoesNotExist') return 'MISSING';
    throw e;
  }
}

export async function handler(event: AcquireLockEvent): Promise<LockResult> {
  const result = await acquireLock(
    event,
    { put: (holder, replacing) => putLock(table, event.gateway, holder, replacing), read: () => readLock(table, event.gateway), executionStatus },
    () => new Date(),
  );
  if (result.tookOverFrom) logger.warn('took over a stale deployment lock', { gateway: event.gateway, from: result.tookOverFrom, because: result.tookOverBecause });
  else logger.info('deployment lock acquired', { gateway: event.gateway });
  return result;
}
