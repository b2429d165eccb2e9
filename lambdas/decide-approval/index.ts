import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { latestPendingApproval, readDecision, recordDecision } from '../shared/adapters/approvals';
import { env } from '../shared/adapters/aws';
import { sfn } from '../shared/adapters/clients/sfn';
import { verifiedCallerArn } from '../shared/adapters/identity-proof';
import { logger } from '../shared/adapters/logger';
import { decide, type DecideEvent, type DecidePorts, type DecideResponse, type DecideSettings } from './decide';

const table = env('DEPLOYMENTS_TABLE');
const region = env('AWS_REGION');
export const settings: DecideSettings = { gateway: env('GATEWAY_NAME'), approvers: JSON.parse(env('APPROVERS')) as string[] };

export const ports: DecidePorts = {
  verifyCaller: (headers) => verifiedCallerArn(headers, region),
  latestPending: (executionName) => latestPendingApproval(table, executionName),
  readDecision: (executionName, round) => readDecision(table, executionName, round),
  recordDecision: (record) => recordDecision(table, record),
  sendSuccess: async (taskToken, output) => void (await sfn.send(new SendTaskSuccessCommand({ taskToken, output }))),
  sendFailure: async (taskToken, error, cause) => void (await sfn.send(new SendTaskFailureCommand({ taskToken, error, cause }))),
  now: () => new Date(),
};

/** Invoked by the deployer CLI (lambda:InvokeFunction, granted by the ApproverPolicy); answers, never throws a refusal. */
export async function handler(event: DecideEvent): Promise<DecideResponse> {
  const result = await decide(event, settings, ports);
  logger.info('decision request', { status: result.statusCode, ...result.body });
  return result;
}
