import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { env } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { sfn } from '../shared/adapters/clients/sfn';
import { sns } from '../shared/adapters/clients/sns';
import { readDeployedVersion } from '../shared/adapters/deployment-table';
import { logger } from '../shared/adapters/logger';
import { writeTriggerProof } from '../shared/adapters/trigger-proof';
import { decideTrigger, type TriggerDecision, type TriggerPolicy } from '../shared/domain/release-trigger';

const settings = {
  stateMachineArn: env('STATE_MACHINE_ARN'),
  table: env('DEPLOYMENTS_TABLE'),
  topicArn: env('OPERATORS_TOPIC_ARN'),
  bucket: env('ARTIFACTS_BUCKET'),
};
const policy: TriggerPolicy = {
  gateway: env('GATEWAY_NAME'),
  releasesPrefix: env('RELEASES_PREFIX'),
  allowPrereleases: process.env.ALLOW_PRERELEASES === 'true',
  maxMajorStep: Number(env('MAX_MAJOR_STEP')),
};

/** The upload's user metadata (expected-agent-version, sha256), of exactly the version the event names. */
async function metadataOf(key: string, versionId: string | undefined): Promise<Record<string, string>> {
  const out = await s3.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
  return out.Metadata ?? {};
}

/** The EventBridge "Object Created" event of the artifacts bucket (only the fields read here). */
export interface ObjectCreatedEvent {
  readonly detail: { readonly object: { readonly key: string; readonly etag?: string; readonly 'version-id'?: string } };
}

export async function handler(event: ObjectCreatedEvent): Promise<TriggerDecision & { executionArn?: string; duplicate?: boolean }> {
  const object = event.detail.object;
  const deployed = await readDeployedVersion(settings.table, policy.gateway);
  // Only a bundle's metadata is read: anything else under the prefix is ignored before any S3 call.
  const isBundle = decideTrigger({ key: object.key }, policy, null).action !== 'ignore';
  const metadata = isBundle ? await metadataOf(object.key, object['version-id']) : {};
  const decision = decideTrigger({ key: object.key, versionId: object['version-id'], etag: object.etag, metadata }, policy, deployed);
  if (decision.action === 'ignore') {
    logger.info('not a bundle; ignored', { key: object.key, reason: decision.reason });
    return decision;
  }
  if (decision.action === 'skip') {
    await sns.send(
      new PublishCommand({
        TopicArn: settings.topicArn,
        Subject: `Compute Gateway ${policy.gateway}: upload of ${decision.version} did not start an upgrade`,
        Message: `${decision.reason}.\nObject: ${object.key}`,
      }),
    );
    logger.info('not newer than the deployed version; skipped', { key: object.key, version: decision.version, deployed });
    return decision;
  }
  // The proof first: Preflight refuses a run marked "trigger": "s3" without it (a week is longer than any run).
  const expiresAt = Math.floor(Date.now() / 1000) + 7 * 24 * 3600;
  await writeTriggerProof(settings.table, decision.executionName, { bundleKey: object.key, ...(object['version-id'] ? { versionId: object['version-id'] } : {}) }, expiresAt);
  try {
    const out = await sfn.send(new StartExecutionCommand({ stateMachineArn: settings.stateMachineArn, name: decision.executionName, input: JSON.stringify(decision.input) }));
    logger.info('upgrade started', { version: decision.version, execution: decision.executionName });
    return { ...decision, executionArn: out.executionArn };
  } catch (error) {
    // The same object again (a repeated event, or a re-upload of identical bytes): its run exists already.
    if ((error as Error).name === 'ExecutionAlreadyExists') {
      logger.info('duplicate event; the run already exists', { execution: decision.executionName });
      return { ...decision, duplicate: true };
    }
    throw error;
  }
}
