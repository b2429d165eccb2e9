import { readDecision } from '../shared/adapters/approvals';
import { env } from '../shared/adapters/aws';
import { logger } from '../shared/adapters/logger';
import { checkApproval, type CheckApprovalEvent, type CheckedApproval } from './check';

const table = env('DEPLOYMENTS_TABLE');

export async function handler(event: CheckApprovalEvent): Promise<CheckedApproval> {
  try {
    const approval = await checkApproval(event, (executionName, round) => readDecision(table, executionName, round));
    logger.info('approval valid', { execution: event.executionName, round: approval.round, approver: approval.decidedBy });
    return approval;
  } catch (error) {
    logger.warn('approval not valid', { execution: event.executionName, error: (error as Error).message });
    throw error;
  }
}
