import { env } from '../shared/adapters/aws';
import { recordSuccess } from '../shared/adapters/history-table';
import { logger } from '../shared/adapters/logger';
import { deploymentRecord } from '../shared/domain/history';
import type { ExecutionFacts, RunState } from '../shared/domain/run-state';

const table = env('DEPLOYMENTS_TABLE');

export interface RecordEvent extends ExecutionFacts {
  readonly gateway: string;
  readonly state: RunState;
}

/** The history item of a verified run and the "last deployed version" Preflight compares against, together. */
export async function handler(event: RecordEvent): Promise<{ recordedAt: string; version: string }> {
  const record = deploymentRecord(event.state, event, event.gateway, 'succeeded', new Date().toISOString());
  await recordSuccess(table, record);
  logger.info('deployment recorded', { gateway: record.gateway, version: record.toVersion, execution: record.executionName });
  return { recordedAt: record.finishedAt, version: record.toVersion };
}
