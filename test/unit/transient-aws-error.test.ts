/**
 * A handler's AWS call that gets no response at all (connection refused or reset) must reach Step Functions under
 * a name the Lambda states retry. Node names such errors plain `Error`, which no Retry lists.
 */
import { ListTablesCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as net from 'node:net';
import { asTransientAwsError, namingNetworkErrors, TransientAwsError } from '../../lambdas/shared/adapters/aws';
import { TRANSIENT_SDK_ERRORS } from '../../lib/constructs/workflow';

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const client = (port: number) =>
  new DynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: 'eu-central-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

test('a refused connection comes out as TransientAwsError, after the SDK retried it, and the Lambda states retry that name', async () => {
  const wrapped = namingNetworkErrors(client(await closedPort()));
  const error = (await wrapped.send(new ListTablesCommand({})).catch((e: unknown) => e)) as TransientAwsError & { code?: string; $metadata?: { attempts?: number } };
  wrapped.destroy();
  expect(error).toBeInstanceOf(TransientAwsError);
  expect(error.name).toBe('TransientAwsError');
  expect(error.code).toBe('ECONNREFUSED');
  expect(error.message).toMatch(/^DynamoDB ListTables got no response from AWS \(ECONNREFUSED\): connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  // The SDK's own retries still happen first.
  expect(error.$metadata?.attempts).toBeGreaterThan(1);
  expect(TRANSIENT_SDK_ERRORS).toContain(error.name);
});

test('without the naming, the same failure reaches the state machine as an error no Retry lists', async () => {
  const bare = client(await closedPort());
  const error = (await bare.send(new ListTablesCommand({})).catch((e: unknown) => e)) as Error;
  bare.destroy();
  expect(TRANSIENT_SDK_ERRORS).not.toContain(error.name);
});

test('answers from AWS and other errors keep their names', () => {
  const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $response: { statusCode: 400 } });
  expect(asTransientAwsError(throttled)).toBe(throttled);
  // A response came back (a proxy's 502 with a reset afterwards, say): the service's own error stands.
  const answered = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $response: { statusCode: 502 } });
  expect(asTransientAwsError(answered)).toBe(answered);
  const bug = new TypeError('x is undefined');
  expect(asTransientAwsError(bug)).toBe(bug);
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  expect(asTransientAwsError(reset, 'S3 GetObject')).toMatchObject({ name: 'TransientAwsError', code: 'ECONNRESET', message: 'S3 GetObject got no response from AWS (ECONNRESET): read ECONNRESET' });
});
