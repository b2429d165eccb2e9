import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { env, isNotFound } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { secretsManager } from '../shared/adapters/clients/secrets-manager';
import { sts } from '../shared/adapters/clients/sts';
import { readDeployment } from '../shared/adapters/deployment-table';
import { logger } from '../shared/adapters/logger';
import { describeSubnets } from '../shared/adapters/subnets';
import { readTriggerProof } from '../shared/adapters/trigger-proof';
import { DeploymentError } from '../shared/domain/errors';
import { runPreflight, type PreflightEvent, type PreflightPorts, type PreflightResult } from './preflight';

const artifactsBucket = env('ARTIFACTS_BUCKET');
const tableName = env('DEPLOYMENTS_TABLE');

const ports: PreflightPorts = {
  async callerIdentity() {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    return { account: out.Account ?? '', arn: out.Arn ?? '' };
  },
  async headArtifact(key) {
    try {
      const out = await s3.send(new HeadObjectCommand({ Bucket: artifactsBucket, Key: key }));
      return { sizeBytes: out.ContentLength ?? 0, ...(out.VersionId ? { versionId: out.VersionId } : {}) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  },
  async getArtifact(key, versionId, maxBytes) {
    const out = await s3.send(new GetObjectCommand({ Bucket: artifactsBucket, Key: key, VersionId: versionId }));
    return readAtMost(out.Body as Readable, maxBytes + 1);
  },
  async getValuesSecret(name) {
    try {
      const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: name }));
      return { text: out.SecretString, arn: out.ARN ?? name, versionId: out.VersionId ?? '' };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  },
  deployment: (gateway) => readDeployment(tableName, gateway),
  describeSubnets,
  triggerProof: (executionName) => readTriggerProof(tableName, executionName),
};

/** The stream's first `limit` bytes (all of it when shorter); the rest is never downloaded. */
async function readAtMost(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= limit) break;
    }
  } finally {
    // Leaving the loop early destroys the stream, which ends the download.
    body.destroy();
  }
  return Buffer.concat(chunks, Math.min(length, limit));
}

export async function handler(event: PreflightEvent): Promise<PreflightResult> {
  try {
    const result = await runPreflight(event, ports, artifactsBucket);
    logger.info('preflight passed', {
      operation: result.operation,
      gateway: result.gateway,
      version: result.version,
      change: result.change,
      sha256: result.bundle.sha256,
    });
    for (const warning of result.warnings) logger.warn('preflight warning', { warning });
    return result;
  } catch (error) {
    // Domain errors carry no secret by construction; they are logged with their message for the operator.
    if (error instanceof DeploymentError) logger.warn('preflight refused the run', { error: error.name, reason: error.message });
    throw error;
  }
}
