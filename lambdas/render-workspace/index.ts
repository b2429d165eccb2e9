import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { env } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { logger } from '../shared/adapters/logger';
import { runRender, type RenderEvent, type RenderPorts, type RenderResult } from './render';

const artifactsBucket = env('ARTIFACTS_BUCKET');
const stack = {
  stateBucket: env('STATE_BUCKET'),
  stateKmsKeyArn: process.env.STATE_KMS_KEY_ARN || undefined,
  deployerRoleArn: process.env.DEPLOYER_ROLE_ARN || undefined,
  planRoleArn: process.env.PLAN_ROLE_ARN || undefined,
};

const ports: RenderPorts = {
  async readText(key, versionId) {
    const out = await s3.send(new GetObjectCommand({ Bucket: artifactsBucket, Key: key, VersionId: versionId }));
    return out.Body!.transformToString('utf-8');
  },
  async write(key, content) {
    await s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: key, Body: content, ContentType: 'application/json' }));
  },
};

export async function handler(event: RenderEvent): Promise<RenderResult> {
  const result = await runRender(event, ports, stack);
  logger.info('workspace rendered', { prefix: result.workspacePrefix, files: result.files });
  return result;
}
