import { env } from '../shared/adapters/aws';
import { deleteLock } from '../shared/adapters/lock-table';
import { logger } from '../shared/adapters/logger';
import { lastState } from '../shared/adapters/execution-history';
import { ports as notifyPorts, settings as notifySettings } from '../notify/index';
import { runEnded, type RunEndedEvent, type RunEndedPorts, type RunEndedResult } from './ended';

const gateway = env('GATEWAY');
const table = env('DEPLOYMENTS_TABLE');
export const ports: RunEndedPorts = {
  ...notifyPorts,
  lastState,
  releaseLock: (executionArn) => deleteLock(table, gateway, executionArn),
  terraformLock: notifyPorts.terraformLock!,
};

export const settings = {
  ...notifySettings,
  gateway,
  timeoutHours: Number(env('RUN_TIMEOUT_HOURS')),
};

export async function handler(event: RunEndedEvent): Promise<RunEndedResult> {
  const result = await runEnded(event, ports, settings);
  logger.info('run ended outside its own catch', { gateway, execution: event.detail.name, status: event.detail.status, ...result });
  return result;
}
