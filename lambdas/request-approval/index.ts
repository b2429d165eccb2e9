import { PublishCommand } from '@aws-sdk/client-sns';
import { env } from '../shared/adapters/aws';
import { sns } from '../shared/adapters/clients/sns';
import { listTopicSubscriptions } from '../shared/adapters/topic-subscriptions';
import { storePendingApproval } from '../shared/adapters/approvals';
import { logger } from '../shared/adapters/logger';
import { requestApproval, type RequestApprovalEvent, type RequestApprovalPorts } from './request';

const table = env('DEPLOYMENTS_TABLE');
const topicArn = env('OPERATORS_TOPIC_ARN');
// SUPPORT_TOPIC_ARN: for the subscriptions check (the stack sets it; without it the request skips the check).
const supportTopicArn = process.env.SUPPORT_TOPIC_ARN;
const deployment = {
  artifactsBucket: env('ARTIFACTS_BUCKET'),
  stackName: env('STACK_NAME'),
  region: env('AWS_REGION'),
  ...(supportTopicArn ? { topics: { support: supportTopicArn, operators: topicArn } } : {}),
};

const ports: RequestApprovalPorts = {
  store: (approval) => storePendingApproval(table, approval),
  async publish(subject, text) {
    await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject, Message: text }));
  },
  now: () => new Date(),
  listSubscriptions: (topic) => listTopicSubscriptions(sns, topic),
};

export async function handler(event: RequestApprovalEvent): Promise<void> {
  await requestApproval(event, ports, deployment);
  logger.info('approval requested', { execution: event.executionName, gateway: event.preflight.gateway, line: event.analysis.line });
}
