import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';

/**
 * SDK clients, built once per container. The endpoint comes from the SDK's own AWS_ENDPOINT_URL when a local
 * emulator stands in for AWS; S3 then needs path-style addressing, since `bucket.127.0.0.1` does not resolve.
 */
const emulated = Boolean(process.env.AWS_ENDPOINT_URL);

export const s3 = new S3Client({ forcePathStyle: emulated });
export const secretsManager = new SecretsManagerClient({});
export const sts = new STSClient({});
export const dynamodb = new DynamoDBClient({});

/** A required environment variable set by the stack; its absence is a wiring bug, so the message says where. */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set (the stack sets it on this function)`);
  return value;
}

/** True for the SDK's "this does not exist" errors, whatever the service calls them. */
export function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return ['NoSuchKey', 'NotFound', 'NoSuchBucket', 'ResourceNotFoundException'].includes(name) || status === 404;
}
