import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';

export const TEST_REGION = 'eu-central-1';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

/** The moto_server that global setup started or reused. */
export function motoEndpoint(): string {
  const endpoint = process.env.MOTO_ENDPOINT;
  if (!endpoint) throw new Error('MOTO_ENDPOINT is not set: run these tests with jest --selectProjects integration');
  return endpoint;
}

// Explicit endpoint, region and credentials, so a client never falls back to the host's AWS configuration.
const clientConfig = (endpoint = motoEndpoint()) => ({ endpoint, region: TEST_REGION, credentials });

/** Path-style addressing: virtual-host buckets would need DNS for `<bucket>.127.0.0.1`. Another emulator: `endpoint`. */
export const s3Client = (endpoint?: string): S3Client => new S3Client({ ...clientConfig(endpoint), forcePathStyle: true });
export const secretsManagerClient = (): SecretsManagerClient => new SecretsManagerClient(clientConfig());
export const stsClient = (): STSClient => new STSClient(clientConfig());
export const dynamoDbClient = (): DynamoDBClient => new DynamoDBClient(clientConfig());
/**
 * Loaded on first use: the EC2 client is the biggest SDK module (about a quarter second to load in each test file),
 * and one test file of the many that import this module needs it.
 */
export const ec2Client = (): EC2Client => {
  const { EC2Client: Client } = require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2');
  return new Client(clientConfig());
};

/** Runs `use` with a fresh client and closes its sockets afterwards, so jest has no open handles left. */
async function withClient<C extends { destroy(): void }, T>(client: C, use: (client: C) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

export async function createBucket(name: string): Promise<void> {
  await withClient(s3Client(), (s3) =>
    s3.send(
      new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: TEST_REGION } }),
    ),
  );
}

export async function putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
  await withClient(s3Client(), (s3) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
}

export async function getObjectText(bucket: string, key: string): Promise<string> {
  return withClient(s3Client(), async (s3) => {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
    return object.Body.transformToString('utf8');
  });
}

/** All keys in `bucket` (under `prefix`), following continuation tokens. */
export async function listKeys(bucket: string, prefix?: string): Promise<string[]> {
  return withClient(s3Client(), async (s3) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  });
}

/** Returns the secret's ARN. */
export async function createSecret(name: string, secretString: string): Promise<string> {
  const created = await withClient(secretsManagerClient(), (sm) =>
    sm.send(new CreateSecretCommand({ Name: name, SecretString: secretString })),
  );
  if (!created.ARN) throw new Error(`moto returned no ARN for secret ${name}`);
  return created.ARN;
}

/** A table keyed by string `pk` (HASH) and `sk` (RANGE), billed per request; resolves once it is ACTIVE. */
export async function createTable(name: string): Promise<void> {
  await withClient(dynamoDbClient(), async (ddb) => {
    await ddb.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await waitUntilTableExists({ client: ddb, maxWaitTime: 20, minDelay: 1 }, { TableName: name });
  });
}
