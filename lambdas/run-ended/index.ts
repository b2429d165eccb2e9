import { env } from '../shared/adapters/aws';
import { deleteLock } from '../shared/adapters/lock-table';
import { logger } from '../shared/adapters/logger';
import { lastState, readTerraformLock } from '../shared/adapters/run-end';
import { ports as notifyPorts, settings as notifySettings } from '../notify/index';
import { runEnded, type RunEndedEvent, type RunEndedPorts, type RunEndedResult } from './ended';

const gateway = env('GATEWAY');
const table = env('DEPLOYMENTS_TABLE');
/** The Terraform backend (resolveBackend at synth): where a stopped build may have left its lock. */
const backend = {
  bucket: env('TF_STATE_BUCKET'),
  key: env('TF_STATE_KEY'),
  useLockfile: process.env.TF_USE_LOCKFILE === 'true',
  lockTable: process.env.TF_LOCK_TABLE || undefined,
};

export const ports: RunEndedPorts = {
  ...notifyPorts,
  lastState,
  releaseLock: (executionArn) => deleteLock(table, gateway, executionArn),
  terraformLock: () => readTerraformLock(backend),
};

export const settings = {
  ...notifySettings,
  gateway,
  timeoutHours: Number(env('RUN_TIMEOUT_HOURS')),
  stateUrl: `s3://${backend.bucket}/${backend.key}`,
  projects: env('TERRAFORM_PROJECTS').split(','),
};

export async function handler(event: RunEndedEvent): Promise<RunEndedResult> {
  const result = await runEnded(event, ports, settings);
  logger.info('run ended outside its own catch', { gateway, execution: event.detail.name, status: event.detail.status, ...result });
  return result;
}
