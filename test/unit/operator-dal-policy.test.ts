/** `npx gateway-deployer dal-policy` with fake ports: which report of the deployed run it reads, and what it prints. */
import { dalAccessReport, dalBucketPolicy } from '../../lambdas/shared/domain/bucket-policy';
import type { Target } from '../../lambdas/shared/operator/cli-commands';
import { runDalPolicy, type DalPolicyPorts } from '../../lambdas/shared/operator/dal-policy';
import type { DeployedView } from '../../lambdas/shared/operator/status';
import { rejection } from '../support/operator-errors';

const TARGET: Target = { gateway: 'gw', stack: 'GatewayDeployer-gw', region: 'eu-central-1' };
const ROLE = 'arn:aws:iam::123456789012:role/gw-dal';
const RUN = 'cli-0-9-0-20240601093000';
const DEPLOYED: DeployedView = {
  version: '0.9.0',
  verification: 'verified',
  deployedAt: '2024-06-01T10:00:00Z',
  executionArn: `arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw:${RUN}`,
};
const APPLY_KEY = `reports/gw/${RUN}/apply.json`;
const OUTPUTS_KEY = `plans/gw/${RUN}/outputs.json`;
const OUTPUTS = [
  { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-central-1:123456789012:stateMachine:GatewayDeployment-gw' },
  { OutputKey: 'DeploymentsTableName', OutputValue: 'table' },
  { OutputKey: 'ArtifactsBucketName', OutputValue: 'artifacts' },
];
function report(buckets: string[], ...given: [role?: unknown]): string {
  const role = given.length > 0 ? given[0] : ROLE;
  return JSON.stringify({ status: 'applied', outputs: { dal_role_arn: role }, sensitiveOutputs: [], ...dalAccessReport(role, buckets) });
}

function fakePorts(objects: Record<string, string | Error>, deployed: DeployedView | null = DEPLOYED) {
  const printed: string[] = [];
  const reads: string[] = [];
  const ports: DalPolicyPorts = {
    region: async () => 'eu-central-1',
    stackOutputs: async () => OUTPUTS,
    readDeployed: async () => deployed,
    readObject: async (bucket, key) => {
      reads.push(`${bucket}/${key}`);
      const object = objects[key];
      if (object instanceof Error) throw object;
      return object ?? null;
    },
    print: (line) => void printed.push(line),
  };
  return { ports, printed, reads };
}

describe('dal-policy', () => {
  test('text: the role, the caveat, and per bucket the command and the policy JSON as the Apply report stored it', async () => {
    const stored = report(['imaging-data', 'genomics-data']);
    const fake = fakePorts({ [APPLY_KEY]: stored });
    const result = await runDalPolicy(TARGET, {}, fake.ports);
    expect(fake.reads).toEqual([`artifacts/${APPLY_KEY}`]);
    expect(result).toEqual({ dalRoleArn: ROLE, buckets: ['imaging-data', 'genomics-data'].map((bucket) => ({ bucket, policy: JSON.parse(stored).dataBucketPolicies[bucket] })) });
    const text = fake.printed.join('\n');
    expect(fake.printed.slice(0, 5)).toEqual([
      `Gateway gw (0.9.0, deployed by run ${RUN}): DAL role ${ROLE}`,
      `The HOWTO's "Enabling access to external AWS S3 buckets": attach each policy below to its bucket.`,
      "put-bucket-policy REPLACES the bucket's whole policy: if the bucket already has one",
      '(aws s3api get-bucket-policy --bucket <bucket>), add the statement to it instead.',
      `Stored by the deployment's build in s3://artifacts/${APPLY_KEY}.`,
    ]);
    expect(text).toContain(
      [
        'Bucket genomics-data: aws s3api put-bucket-policy --bucket genomics-data --policy file://dal-policy-genomics-data.json',
        '(this command with --bucket genomics-data > dal-policy-genomics-data.json writes that file)',
        JSON.stringify(dalBucketPolicy(ROLE, 'genomics-data'), null, 2),
      ].join('\n'),
    );
  });

  test('json: { dalRoleArn, buckets: [{ bucket, policy }] }', async () => {
    const fake = fakePorts({ [APPLY_KEY]: report(['imaging-data']) });
    await runDalPolicy(TARGET, { json: true }, fake.ports);
    expect(JSON.parse(fake.printed.join('\n'))).toEqual({ dalRoleArn: ROLE, buckets: [{ bucket: 'imaging-data', policy: dalBucketPolicy(ROLE, 'imaging-data') }] });
  });

  test('--bucket: in text only the policy JSON, the file put-bucket-policy reads', async () => {
    const fake = fakePorts({ [APPLY_KEY]: report(['imaging-data', 'genomics-data']) });
    await runDalPolicy(TARGET, { bucket: 'genomics-data' }, fake.ports);
    expect(JSON.parse(fake.printed.join('\n'))).toEqual(dalBucketPolicy(ROLE, 'genomics-data'));
    const error = await rejection(runDalPolicy(TARGET, { bucket: 'other-bucket' }, fakePorts({ [APPLY_KEY]: report(['imaging-data']) }).ports));
    expect(error.message).toBe('other-bucket is not an external data bucket of the deployed gateway gw (its buckets: imaging-data)');
    expect(error.exitCode).toBe(1);
  });

  test("a deployed run that had nothing to apply: its Plan's outputs.json", async () => {
    const fake = fakePorts({ [OUTPUTS_KEY]: JSON.stringify({ outputs: { dal_role_arn: ROLE }, ...dalAccessReport(ROLE, ['imaging-data']) }) });
    const result = await runDalPolicy(TARGET, {}, fake.ports);
    expect(fake.reads).toEqual([`artifacts/${APPLY_KEY}`, `artifacts/${OUTPUTS_KEY}`]);
    expect(result.buckets.map((b) => b.bucket)).toEqual(['imaging-data']);
    expect(fake.printed).toContain(`Stored by the deployment's build in s3://artifacts/${OUTPUTS_KEY}.`);
  });

  test('no external buckets: one line, exit 0 (json: an empty list)', async () => {
    const text = fakePorts({ [APPLY_KEY]: report([]) });
    await expect(runDalPolicy(TARGET, {}, text.ports)).resolves.toEqual({ dalRoleArn: ROLE, buckets: [] });
    expect(text.printed).toEqual(['Gateway gw has no external data buckets (module.additional_data_buckets is empty): no bucket policy to attach.']);
    const json = fakePorts({ [APPLY_KEY]: report([]) });
    await runDalPolicy(TARGET, { json: true }, json.ports);
    expect(JSON.parse(json.printed.join('\n'))).toEqual({ dalRoleArn: ROLE, buckets: [] });
  });

  test('nothing deployed yet: a clear error, exit 1, no S3 read', async () => {
    const fake = fakePorts({}, null);
    const error = await rejection(runDalPolicy(TARGET, {}, fake.ports));
    expect(error.message).toBe('gateway gw is not deployed yet (no deployment recorded in table): its DAL role and bucket policies exist after the first install');
    expect(error.exitCode).toBe(1);
    expect(fake.reads).toEqual([]);
    expect(fake.printed).toEqual([]);
  });

  test('no report stored for the deployed run: exit 1, both places named', async () => {
    const error = await rejection(runDalPolicy(TARGET, {}, fakePorts({}).ports));
    expect(error.message).toBe(
      `no Terraform outputs are stored for run ${RUN}, which deployed gateway gw: neither s3://artifacts/${APPLY_KEY} nor s3://artifacts/${OUTPUTS_KEY} exists`,
    );
    expect(error.exitCode).toBe(1);
  });

  test('a report of an older deployer: how to store them (a redeploy)', async () => {
    const error = await rejection(runDalPolicy(TARGET, {}, fakePorts({ [APPLY_KEY]: JSON.stringify({ status: 'applied', outputs: {} }) }).ports));
    expect(error.message).toContain('says nothing about the external data buckets: an older deployer wrote it');
    expect(error.message).toContain('npx gateway-deployer start --version 0.9.0 --allow-redeploy');
    expect(error.exitCode).toBe(1);
  });

  test('buckets but no usable role, or a policy that is not the HOWTO\'s: exit 1, nothing printed', async () => {
    const noRole = await rejection(runDalPolicy(TARGET, {}, fakePorts({ [APPLY_KEY]: report(['imaging-data'], undefined) }).ports));
    expect(noRole.message).toMatch(/^no bucket policy for the external data buckets imaging-data of gateway gw: the gateway module gave no dal_role_arn output/);
    const doc = JSON.parse(report(['imaging-data']));
    doc.dataBucketPolicies['imaging-data'].Statement[0].Resource = '*';
    const fake = fakePorts({ [APPLY_KEY]: JSON.stringify(doc) });
    const tampered = await rejection(runDalPolicy(TARGET, {}, fake.ports));
    expect(tampered.message).toContain("the policy stored for bucket imaging-data is not the HOWTO's");
    expect(tampered.exitCode).toBe(1);
    expect(fake.printed).toEqual([]);
  });

  test('not allowed to read the reports: exit 2, what is needed', async () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    const error = await rejection(runDalPolicy(TARGET, {}, fakePorts({ [APPLY_KEY]: denied, [OUTPUTS_KEY]: denied }).ports));
    expect(error.message).toContain(`not allowed to read s3://artifacts/${APPLY_KEY} or s3://artifacts/${OUTPUTS_KEY}`);
    expect(error.message).toContain('kms:Decrypt');
    expect(error.exitCode).toBe(2);
  });

  test('a missing stack output is named, exit 2', async () => {
    const fake = fakePorts({});
    fake.ports.stackOutputs = async () => OUTPUTS.filter((o) => o.OutputKey !== 'ArtifactsBucketName');
    const error = await rejection(runDalPolicy(TARGET, {}, fake.ports));
    expect(error.message).toContain('has no output ArtifactsBucketName');
    expect(error.exitCode).toBe(2);
  });
});
