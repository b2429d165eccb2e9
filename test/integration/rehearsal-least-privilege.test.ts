/**
 * Least privilege, by running against IAM: a whole install rehearsed in a moto_server of this file's own, with each
 * CodeBuild project's role made from the synthesized template and each build run as its role (buildRoles). Then
 * moto's IAM authorization is switched on and the Plan role, which runs the bundle's code before any approval, is
 * tried call by call: what Plan needs is allowed, every write it must not have is denied by moto's evaluation of
 * the template's own policies (ReadOnlyAccess included). What moto checks: actions and resource ARNs; not
 * conditions, KMS key policies or bucket policies (test/cdk/iam.test.ts asserts those). The run itself happens with
 * authorization off, since moto 5.2.1 miscomputes the signature of the S3 listings every build makes: this shows
 * what the roles may do, not that every call of a run is allowed. The Lambdas' roles are not run against moto's
 * authorization at all: it refuses DynamoDB calls allowed on a table ARN (it evaluates only S3 by resource).
 */
import { CreateRoleCommand, CreateUserCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rehearse, sampleBundleFile, type RehearsalReport } from '../rehearsal/harness';
import { REHEARSAL_REGION } from '../rehearsal/template';
import { startMoto, type MotoServer } from './support/moto';

jest.setTimeout(180_000);

const prefix = `iam-${process.pid}-${Date.now().toString(36)}`;
const STATE_KEY = 'gateways/gateway/terraform.tfstate';
let moto: MotoServer;
let workDir: string;
let report: RehearsalReport;
type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken: string };
const sessions: Record<'plan' | 'terraform', Credentials> = {} as never;

/** A session of the role whose name (prefix-<logical id>) starts as given; made while authorization is off. */
async function sessionOf(roleNameStart: string): Promise<Credentials> {
  const config = { endpoint: moto.endpoint, region: REHEARSAL_REGION };
  const iam = new IAMClient(config);
  const sts = new STSClient(config);
  try {
    const role = ((await iam.send(new ListRolesCommand({}))).Roles ?? []).find((r) => r.RoleName!.startsWith(roleNameStart));
    if (!role) throw new Error(`no role ${roleNameStart}* in the emulator`);
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: role.Arn!, RoleSessionName: 'least-privilege' }))).Credentials!;
    return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
  } finally {
    iam.destroy();
    sts.destroy();
  }
}

beforeAll(async () => {
  moto = await startMoto({ env: { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } });
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-iam-'));
  report = await rehearse({ motoEndpoint: moto.endpoint, workDir, prefix, bundlePath: await sampleBundleFile(workDir, '1.0.0'), buildRoles: true });
  sessions.plan = await sessionOf(`${prefix}-terraformplanrole`);
  sessions.terraform = await sessionOf(`${prefix}-terraformrole`);
  await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
});

afterAll(async () => {
  if (moto) await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: 'inf' }).catch(() => undefined);
  await moto?.stop();
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

const s3As = (who: keyof typeof sessions) => new S3Client({ endpoint: moto.endpoint, region: REHEARSAL_REGION, forcePathStyle: true, credentials: sessions[who] });
const denied = { name: 'AccessDenied' };

test('the install succeeded with every build as its project\'s role', () => {
  expect(report.status).toBe('SUCCEEDED');
  expect(report.states.filter((s) => ['Plan', 'Apply', 'Verify'].includes(s.name)).map((s) => `${s.name}:${s.outcome}`)).toEqual(['Plan:succeeded', 'Apply:succeeded', 'Verify:succeeded']);
});

describe('the Plan role (the bundle\'s code runs under it before any approval)', () => {
  // The values secret is read too; moto 5.2.1 answers a resource-scoped secretsmanager:GetSecretValue with a server
  // error under authorization, so that grant is asserted in test/cdk/iam.test.ts only.
  test('reads what Plan reads: the bundle, the workspace, the state', async () => {
    const s3 = s3As('plan');
    const { artifactsBucket, stateBucket } = report.resources;
    // Each body read to the end, so no response is left open on the connection.
    const read = async (Bucket: string, Key: string) => (await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray()).length;
    await expect(read(artifactsBucket, 'releases/gateway-1.0.0.zip')).resolves.toBeGreaterThan(0);
    await expect(read(artifactsBucket, `workspaces/gateway/${report.executionName}/backend.tf.json`)).resolves.toBeGreaterThan(0);
    await expect(read(stateBucket, STATE_KEY)).resolves.toBeGreaterThan(0);
    s3.destroy();
  });

  test('writes its plans/ and reports/ and the state lock, and nothing else there: not the state, a bundle or a workspace', async () => {
    const s3 = s3As('plan');
    const { artifactsBucket, stateBucket } = report.resources;
    await expect(s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: 'plans/gateway/x/tfplan', Body: 'x' }))).resolves.toBeDefined();
    await expect(s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: 'reports/gateway/x/plan-failure.json', Body: '{}' }))).resolves.toBeDefined();
    await expect(s3.send(new PutObjectCommand({ Bucket: stateBucket, Key: `${STATE_KEY}.tflock`, Body: '{}' }))).resolves.toBeDefined();
    await expect(s3.send(new DeleteObjectCommand({ Bucket: stateBucket, Key: `${STATE_KEY}.tflock` }))).resolves.toBeDefined();
    await expect(s3.send(new PutObjectCommand({ Bucket: stateBucket, Key: STATE_KEY, Body: '{}' }))).rejects.toMatchObject(denied);
    await expect(s3.send(new DeleteObjectCommand({ Bucket: stateBucket, Key: STATE_KEY }))).rejects.toMatchObject(denied);
    await expect(s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: 'releases/gateway-9.9.9.zip', Body: 'x' }))).rejects.toMatchObject(denied);
    await expect(s3.send(new PutObjectCommand({ Bucket: artifactsBucket, Key: 'workspaces/gateway/x/gateway.tf.json', Body: '{}' }))).rejects.toMatchObject(denied);
    s3.destroy();
  });

  test('cannot change the account: no IAM user or role, whatever ReadOnlyAccess allows', async () => {
    const iam = new IAMClient({ endpoint: moto.endpoint, region: REHEARSAL_REGION, credentials: sessions.plan });
    await expect(iam.send(new CreateUserCommand({ UserName: 'backdoor' }))).rejects.toMatchObject(denied);
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] });
    await expect(iam.send(new CreateRoleCommand({ RoleName: 'backdoor', AssumeRolePolicyDocument: trust }))).rejects.toMatchObject(denied);
    iam.destroy();
  });
});

test('the Terraform role (Apply, after an approval) may write the state the Plan role may not', async () => {
  const s3 = s3As('terraform');
  const state = await s3.send(new GetObjectCommand({ Bucket: report.resources.stateBucket, Key: STATE_KEY }));
  const body = await state.Body!.transformToString();
  await expect(s3.send(new PutObjectCommand({ Bucket: report.resources.stateBucket, Key: STATE_KEY, Body: body }))).resolves.toBeDefined();
  s3.destroy();
});
