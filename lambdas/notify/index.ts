import { GetObjectCommand } from '@aws-sdk/client-s3';
import { readTerraformLock, type TerraformBackend } from '../shared/adapters/run-end';
import { PublishCommand } from '@aws-sdk/client-sns';
import { env, isNotFound } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { sns } from '../shared/adapters/clients/sns';
import { recordDeployment, recordRun } from '../shared/adapters/history-table';
import { listTopicSubscriptions } from '../shared/adapters/topic-subscriptions';
import { logger } from '../shared/adapters/logger';
import type { SubscriptionCheckTarget } from '../shared/domain/subscriptions';
import { notify, type NotifyEvent, type NotifyPorts } from './notify';

const artifactsBucket = env('ARTIFACTS_BUCKET');
const table = env('DEPLOYMENTS_TABLE');
const topics = { support: env('SUPPORT_TOPIC_ARN'), operators: env('OPERATORS_TOPIC_ARN') };
/** The Terraform backend (resolveBackend at synth): where a killed or stopped build may have left its lock. */
const backend: TerraformBackend = {
  bucket: env('TF_STATE_BUCKET'),
  key: env('TF_STATE_KEY'),
  useLockfile: process.env.TF_USE_LOCKFILE === 'true',
  ...(process.env.TF_LOCK_TABLE ? { lockTable: process.env.TF_LOCK_TABLE } : {}),
};

export const settings = {
  artifactsBucket,
  stateUrl: `s3://${backend.bucket}/${backend.key}`,
  projects: env('TERRAFORM_PROJECTS').split(','),
  accountId: env('ACCOUNT_ID'),
  region: env('AWS_REGION'),
  stateBucket: process.env.STATE_BUCKET,
  stepLogGroups: JSON.parse(process.env.STEP_LOG_GROUPS || '{}') as Record<string, string>,
  // The config's notifications addresses, set on Notify only: the success notice checks their subscriptions.
  ...(process.env.NOTIFICATION_EMAILS ? { subscriptions: subscriptionTargets(process.env.NOTIFICATION_EMAILS) } : {}),
};

function subscriptionTargets(json: string): SubscriptionCheckTarget[] {
  const emails = JSON.parse(json) as { support?: string[]; operators?: string[] };
  return [
    { topic: 'support', topicArn: topics.support, configured: emails.support ?? [] },
    { topic: 'operators', topicArn: topics.operators, configured: emails.operators ?? [] },
  ];
}

export const ports: NotifyPorts = {
  async readJson(key) {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: artifactsBucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString('utf-8'));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  },
  async publish(topic, subject, text) {
    await sns.send(new PublishCommand({ TopicArn: topics[topic], Subject: subject, Message: text }));
  },
  recordRun: (record) => recordRun(table, record),
  recordApplied: (record, verification) => recordDeployment(table, record, verification),
  now: () => new Date(),
  listSubscriptions: (topicArn) => listTopicSubscriptions(sns, topicArn),
  terraformLock: () => readTerraformLock(backend),
};

export async function handler(event: NotifyEvent): Promise<{ notified: string[] }> {
  const result = await notify(event, ports, settings);
  logger.info('notified', { kind: event.kind, gateway: event.gateway, execution: event.executionName, topics: result.notified });
  return result;
}
