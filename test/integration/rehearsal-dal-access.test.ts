/**
 * Issue #18, finding 3: the HOWTO's "Enabling access to external AWS S3 buckets", told. A gateway with
 * module.additional_data_buckets, rehearsed end to end (the real Apply build, the real Notify handler): the
 * operators' success notice carries each bucket's policy exactly as the Apply report stored it, the support mail
 * none of it, and no value of the values secret; a redeploy with nothing to apply tells it again from the plan's
 * outputs; and `dal-policy` prints the same from what the deployed run stored.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { operatorAws } from '../../lambdas/shared/adapters/operator-aws';
import { runDalPolicy } from '../../lambdas/shared/operator/dal-policy';
import { rehearse, type RehearsalOptions, type RehearsalReport } from '../rehearsal/harness';
import { getObjectText, motoEndpoint, TEST_REGION } from './support/aws-clients';

jest.setTimeout(240_000);

const prefix = `dal-${process.pid}-${Date.now().toString(36)}`;
const BUCKETS = ['imaging-data', 'genomics.v2'];
const CONFIG = { ...EXAMPLE_CONFIG, module: { ...EXAMPLE_CONFIG.module, additional_data_buckets: BUCKETS } };
/** The values of the sample values secret (harness SAMPLE_VALUES_YAML): never in a notification. */
const SECRETS = ['rehearsal-tenant-7f3a', 'rehearsal-client-5d1c', 'rehearsal-secret-9b2e', 'rehearsal-helm-user', 'rehearsal-helm-pass-3c8d'];

let workDir: string;
let installed: RehearsalReport;
let stored: { outputs: { dal_role_arn: string }; dataBucketPolicies: Record<string, object> };

const run = (options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, `run-${Date.now()}`), prefix, config: CONFIG, ...options });
const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];
const notice = (report: RehearsalReport, topic: string) => report.notifications.find((n) => n.topic === topic && !n.subject.includes('approve'))!;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-dal-'));
  installed = await run({});
  if (installed.status !== 'SUCCEEDED') throw new Error(`the install failed: ${installed.error}: ${installed.cause}`);
  stored = JSON.parse(await getObjectText(installed.resources.artifactsBucket, `reports/gateway/${installed.executionName}/apply.json`));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

test('after the install: operators get the DAL role and each bucket policy as the Apply build stored it; support and secrets stay out', () => {
  const role = stored.outputs.dal_role_arn;
  expect(role).toMatch(/^arn:aws:iam::\d{12}:role\/gateway-dal$/);
  const operators = notice(installed, 'operators');
  expect(operators.subject).toBe('Compute Gateway gateway: installed 1.0.0, verified');
  expect(operators.message).toContain(`DAL role: ${role} (each policy lets it list the bucket and read its objects, nothing else)`);
  expect(operators.message).toContain("put-bucket-policy REPLACES the bucket's whole policy");
  for (const bucket of BUCKETS) {
    expect(operators.message).toContain(`Bucket ${bucket}: aws s3api put-bucket-policy --bucket ${bucket} --policy file://dal-policy-${bucket}.json`);
    expect(operators.message).toContain(`dal-policy-${bucket}.json:\n${JSON.stringify(stored.dataBucketPolicies[bucket], null, 2)}`);
  }
  const support = notice(installed, 'support').message;
  expect(support).not.toContain(role);
  for (const bucket of BUCKETS) expect(support).not.toContain(bucket);
  for (const n of installed.notifications) for (const secret of SECRETS) expect({ subject: n.subject, leaked: n.message.includes(secret) }).toEqual({ subject: n.subject, leaked: false });
});

test('dal-policy prints the same, from the deployed run', async () => {
  const aws = operatorAws({ endpoint: motoEndpoint(), region: TEST_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const printed: string[] = [];
  try {
    const { artifactsBucket, table } = installed.resources;
    const ports = {
      ...aws,
      // The rehearsal makes no CloudFormation stack: its resources stand in for the outputs.
      stackOutputs: async () => [
        { OutputKey: 'ArtifactsBucketName', OutputValue: artifactsBucket },
        { OutputKey: 'DeploymentsTableName', OutputValue: table },
      ],
      print: (line: string) => void printed.push(line),
    };
    await runDalPolicy({ gateway: 'gateway', stack: 'GatewayDeployer-gateway', region: TEST_REGION }, { json: true }, ports);
  } finally {
    aws.destroy();
  }
  expect(JSON.parse(printed.join('\n'))).toEqual({
    dalRoleArn: stored.outputs.dal_role_arn,
    buckets: BUCKETS.map((bucket) => ({ bucket, policy: stored.dataBucketPolicies[bucket] })),
  });
});

test('a redeploy with nothing to apply tells them again, from the plan\'s outputs', async () => {
  const report = await run({ input: { version: '1.0.0', allowRedeploy: true, reason: 'rehearse the DAL notice' } });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).toContain('NothingToApply');
  expect(visited(report)).not.toContain('Apply');
  const operators = notice(report, 'operators').message;
  expect(operators).toContain("Nothing was applied in this run: these are the deployed gateway's role and policies, from the plan's outputs.");
  for (const bucket of BUCKETS) expect(operators).toContain(`dal-policy-${bucket}.json:\n${JSON.stringify(stored.dataBucketPolicies[bucket], null, 2)}`);
});
