/**
 * The real Preflight handler, with its SDK clients, against moto: a versioned artifacts bucket, the deployments
 * table and the values secret. Every refusal must leave the bucket and the table exactly as they were, and no
 * value of the values secret may reach an error or a log line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import type { PreflightEvent, PreflightResult } from '../../lambdas/preflight/preflight';
import {
  BundleError,
  ConfigError,
  DeploymentError,
  IdentityError,
  InputError,
  ValuesError,
  VersionError,
} from '../../lambdas/shared/domain/errors';
import { INVALID_YAML, VALUES_YAML, expectNoCanary, placeholderYaml } from '../support/values-fixtures';
import { SAMPLE_MODULE_FILES, buildZip, forgeDeclaredSize, renameEntry, sampleModuleZip } from '../support/zip-fixtures';
import {
  TEST_REGION,
  createBucket,
  createSecret,
  createTable,
  dynamoDbClient,
  ec2Client,
  s3Client,
  secretsManagerClient,
} from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const SUFFIX = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const BUCKET = `gw-artifacts-${SUFFIX}`.toLowerCase();
const TABLE = `gw-deployments-${SUFFIX}`;
const SECRET = `gw-it/${SUFFIX}/values`;
const PLACEHOLDER_SECRET = `gw-it/${SUFFIX}/values-placeholders`;
const INVALID_SECRET = `gw-it/${SUFFIX}/values-invalid`;
const BUNDLE_KEY = 'releases/gateway-0.8.1.zip';

/** The HOWTO's example values pasted unchanged for the credentials. */
const PLACEHOLDER_YAML = placeholderYaml('tenant', 'clientId', 'clientSecret');

type Handler = (event: PreflightEvent) => Promise<PreflightResult>;

let handler: Handler;
let goodZip: Buffer;
let goodZipVersionId: string;
let secretArn: string;
let secretVersionId: string;
const logLines: string[] = [];

function event(input: unknown, configOverrides: Record<string, unknown> = {}): PreflightEvent {
  return {
    input,
    config: JSON.stringify({
      gatewayName: 'gw-it',
      target: { account: ACCOUNT, region: TEST_REGION },
      valuesSecretName: SECRET,
      approval: { approvers: [`arn:aws:iam::${ACCOUNT}:role/GatewayOperator`] },
      ...configOverrides,
    }),
  };
}

async function upload(key: string, body: Buffer): Promise<string> {
  const s3 = s3Client();
  try {
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    if (!out.VersionId) throw new Error(`moto returned no VersionId for ${key}: is versioning enabled on ${BUCKET}?`);
    return out.VersionId;
  } finally {
    s3.destroy();
  }
}

async function putDeployedVersion(gateway: string, version: string): Promise<void> {
  const ddb = dynamoDbClient();
  try {
    await ddb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'CURRENT' }, version: { S: version } },
      }),
    );
  } finally {
    ddb.destroy();
  }
}

/** Every object version and delete marker in the bucket, and every item in the table. */
async function snapshot(): Promise<{ objects: string[]; items: string[] }> {
  const s3 = s3Client();
  const ddb = dynamoDbClient();
  try {
    const objects: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({ Bucket: BUCKET, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
      );
      for (const v of page.Versions ?? []) objects.push(`${v.Key} ${v.VersionId} ${v.IsLatest ? 'latest' : ''} ${v.ETag} ${v.Size}`);
      for (const d of page.DeleteMarkers ?? []) objects.push(`${d.Key} ${d.VersionId} delete-marker`);
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);

    const items: string[] = [];
    let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true, ExclusiveStartKey: startKey }));
      for (const item of page.Items ?? []) items.push(JSON.stringify(item, Object.keys(item).sort()));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { objects: objects.sort(), items: items.sort() };
  } finally {
    s3.destroy();
    ddb.destroy();
  }
}

/** Invokes the handler expecting a refusal of `type`, and proves that the refused run changed nothing. */
async function refusal<E extends DeploymentError>(type: new (message: string) => E, ev: PreflightEvent): Promise<E> {
  const before = await snapshot();
  const logsBefore = logLines.length;
  const outcome = await handler(ev).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected ${type.name}, but preflight passed: ${JSON.stringify(outcome.result)}`);
  const error = outcome.error as E;
  expect(error).toBeInstanceOf(type);
  expect(error.name).toBe(type.name);
  expectNoCanary(error.message);
  expectNoCanary(JSON.stringify(error));
  // The handler tells the operator why, in one warning carrying the error's name and message.
  const logs = logLines.slice(logsBefore).join('\n');
  expect(logs).toContain('preflight refused the run');
  expect(logs).toContain(type.name);
  expectNoCanary(logs);
  expect(await snapshot()).toEqual(before);
  return error;
}

async function pass(ev: PreflightEvent): Promise<PreflightResult> {
  const before = await snapshot();
  const result = await handler(ev);
  expectNoCanary(JSON.stringify(result));
  expect(await snapshot()).toEqual(before);
  return result;
}

beforeAll(async () => {
  await createBucket(BUCKET);
  const s3 = s3Client();
  try {
    await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  } finally {
    s3.destroy();
  }
  await createTable(TABLE);

  secretArn = await createSecret(SECRET, VALUES_YAML);
  await createSecret(PLACEHOLDER_SECRET, PLACEHOLDER_YAML);
  await createSecret(INVALID_SECRET, INVALID_YAML);
  const sm = secretsManagerClient();
  try {
    const current = await sm.send(new GetSecretValueCommand({ SecretId: SECRET }));
    if (!current.VersionId) throw new Error('moto returned no VersionId for the values secret');
    secretVersionId = current.VersionId;
  } finally {
    sm.destroy();
  }

  goodZip = await sampleModuleZip();
  // An older upload of the same key first, so the checked version is not simply the only one.
  await upload(BUNDLE_KEY, await buildZip([{ name: 'README.md', content: 'superseded upload' }]));
  goodZipVersionId = await upload(BUNDLE_KEY, goodZip);

  const traversal = renameEntry(await sampleModuleZip([{ name: 'xx/evil.tf', content: 'resource "null" "x" {}' }]), 'xx/evil.tf', '../evil.tf');
  await upload('releases/gateway-0.9.1.zip', traversal);
  await upload('releases/gateway-0.9.2.zip', Buffer.from('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>'));
  await upload(
    'releases/gateway-0.9.3.zip',
    await sampleModuleZip([{ name: 'modules/agent/creds', content: '/root/.aws/credentials', mode: 0o120777 }]),
  );
  await upload('releases/gateway-0.9.4.zip', await buildZip(SAMPLE_MODULE_FILES.filter((f) => f.name !== 'main.tf')));
  // A zip bomb that hides: 64 MiB of zeros (a 64 KB upload) whose central directory declares 4000 bytes.
  await upload('releases/gateway-0.9.5.zip', forgeDeclaredSize(await sampleModuleZip([{ name: 'modules/agent/blob.bin', content: Buffer.alloc(64 * 1024 * 1024) }]), 'modules/agent/blob.bin', 4000));

  await putDeployedVersion('gw-redeploy', '0.8.1');
  await putDeployedVersion('gw-downgrade', '0.9.0');

  // The handler reads its settings and builds its clients at import time, so it is imported only now.
  process.env.ARTIFACTS_BUCKET = BUCKET;
  process.env.DEPLOYMENTS_TABLE = TABLE;
  // Development mode sends the logger to the global console, where the test can read every line.
  process.env.POWERTOOLS_DEV = 'true';
  captureConsole(logLines);
  ({ handler } = await import('../../lambdas/preflight/index'));
});

afterAll(async () => {
  await destroyAdapterClients();
  jest.restoreAllMocks();
  delete process.env.POWERTOOLS_DEV;
});

describe('Preflight handler against moto: runs that pass', () => {
  test('first install: digests and version ids are those of the stored bundle and secret', async () => {
    const result = await pass(event({ version: '0.8.1' }));
    expect(result).toEqual({
      operation: 'deploy',
      gateway: 'gw-it',
      version: '0.8.1',
      change: 'install',
      previousVersion: null,
      bundle: {
        bucket: BUCKET,
        key: BUNDLE_KEY,
        versionId: goodZipVersionId,
        sha256: createHash('sha256').update(goodZip).digest('hex'),
        sizeBytes: goodZip.length,
        entryCount: SAMPLE_MODULE_FILES.length,
      },
      values: { secretArn, versionId: secretVersionId },
      caller: { account: ACCOUNT, arn: `arn:aws:sts::${ACCOUNT}:user/moto` },
      trigger: 'console',
      warnings: [],
    });
    // The "nothing changed" snapshots compare real content: seven object versions and two deployment items.
    const state = await snapshot();
    expect(state.objects).toHaveLength(7);
    expect(state.items).toHaveLength(2);
    expect(logLines.join('\n')).toContain('preflight passed');
    expectNoCanary(logLines.join('\n'));
  });

  test('the bundleKey form, with the vendor\'s sha256 and an expected agent version', async () => {
    const sha256 = createHash('sha256').update(goodZip).digest('hex');
    const result = await pass(event({ bundleKey: BUNDLE_KEY, bundleSha256: sha256, expectedAgentVersion: '0.16.20', trigger: 'cli' }));
    expect(result).toMatchObject({
      version: '0.8.1',
      change: 'install',
      bundle: { key: BUNDLE_KEY, versionId: goodZipVersionId, sha256 },
      expectedAgentVersion: '0.16.20',
      trigger: 'cli',
    });
  });

  test('the same version as deployed, with allowRedeploy → redeploy', async () => {
    const result = await pass(event({ version: '0.8.1', allowRedeploy: true }, { gatewayName: 'gw-redeploy' }));
    expect(result).toMatchObject({ gateway: 'gw-redeploy', change: 'redeploy', previousVersion: '0.8.1' });
  });

  test('older than deployed, with allowDowngrade → downgrade', async () => {
    const result = await pass(event({ version: '0.8.1', allowDowngrade: true }, { gatewayName: 'gw-downgrade' }));
    expect(result).toMatchObject({ gateway: 'gw-downgrade', change: 'downgrade', previousVersion: '0.9.0' });
  });
});

describe('Preflight handler against moto: refusals change nothing', () => {
  test('a missing bundle → BundleError with its S3 URL', async () => {
    const error = await refusal(BundleError, event({ version: '0.7.0' }));
    expect(error.message).toContain(`s3://${BUCKET}/releases/gateway-0.7.0.zip not found`);
  });

  test.each([
    ['0.9.1', 'an entry escaping the module folder', 'gateway-0.9.1.zip: unsafe entry: invalid relative path: ../evil.tf'],
    ['0.9.2', 'bytes that are not a zip', 'gateway-0.9.2.zip is not a valid zip archive'],
    ['0.9.3', 'a symbolic link', 'gateway-0.9.3.zip: entry "modules/agent/creds" is a symbolic link'],
    ['0.9.4', 'no main.tf', 'gateway-0.9.4.zip: required module files missing at the archive root: main.tf'],
  ])('bundle %s with %s → BundleError naming the problem', async (version, _what, problem) => {
    const error = await refusal(BundleError, event({ version }));
    expect(error.message).toContain(problem);
  });

  test('a bundle whose central directory understates an entry (64 MiB declared as 4000 bytes) → BundleError naming it and both sizes', async () => {
    // Under a 32 MiB bundle.maxUncompressedBytes every check on the central directory passes; inflating does not.
    const error = await refusal(BundleError, event({ version: '0.9.5' }, { bundle: { maxUncompressedBytes: 32 * 1024 * 1024 } }));
    expect(error.message).toMatch(
      /^gateway-0\.9\.5\.zip: entry "modules\/agent\/blob\.bin" unpacks to more than the 4000 bytes its central directory declares \(at least \d+ when inflating stopped\)/,
    );
  });

  test('a sha256 that differs from the stored bundle → BundleError naming both digests', async () => {
    const given = 'ab'.repeat(32);
    const error = await refusal(BundleError, event({ version: '0.8.1', bundleSha256: given }));
    expect(error.message).toContain(createHash('sha256').update(goodZip).digest('hex'));
    expect(error.message).toContain(given);
  });

  test('a config targeting another account → IdentityError naming both accounts', async () => {
    const error = await refusal(IdentityError, event({ version: '0.8.1' }, { target: { account: OTHER_ACCOUNT, region: TEST_REGION } }));
    expect(error.message).toContain(`running in AWS account ${ACCOUNT}`);
    expect(error.message).toContain(`targets account ${OTHER_ACCOUNT}`);
  });

  test('a values secret that does not exist → ValuesError naming it', async () => {
    const missing = `gw-it/${SUFFIX}/no-such-values`;
    const error = await refusal(ValuesError, event({ version: '0.8.1' }, { valuesSecretName: missing }));
    expect(error.message).toContain(`values secret "${missing}" (valuesSecretName) not found`);
  });

  test('a values secret with the HOWTO placeholders → ValuesError naming the keys', async () => {
    const error = await refusal(ValuesError, event({ version: '0.8.1' }, { valuesSecretName: PLACEHOLDER_SECRET }));
    expect(error.message).toContain(PLACEHOLDER_SECRET);
    expect(error.message).toContain('tenant, auth.orchestrator.clientId, auth.orchestrator.clientSecret');
  });

  test('a values secret that is not valid YAML → ValuesError with positions, no value', async () => {
    const error = await refusal(ValuesError, event({ version: '0.8.1' }, { valuesSecretName: INVALID_SECRET }));
    expect(error.message).toContain(`values secret "${INVALID_SECRET}" is not valid YAML`);
    expect(error.message).toMatch(/line \d+ column \d+/);
  });

  test('the version already deployed (for that gateway only) → VersionError', async () => {
    const error = await refusal(VersionError, event({ version: '0.8.1' }, { gatewayName: 'gw-redeploy' }));
    expect(error.message).toContain('0.8.1 is already deployed');
    expect(error.message).toContain('allowRedeploy');
  });

  test('a version older than the deployed one → VersionError naming both versions', async () => {
    const error = await refusal(VersionError, event({ version: '0.8.1' }, { gatewayName: 'gw-downgrade' }));
    expect(error.message).toContain('gateway 0.8.1 is older than the deployed 0.9.0');
    expect(error.message).toContain('allowDowngrade');
  });

  test('a customized gateway.tf that is not in the bucket → BundleError naming the key', async () => {
    const error = await refusal(BundleError, event({ version: '0.8.1' }, { customGatewayTfKey: 'custom/gateway.tf' }));
    expect(error.message).toContain(`s3://${BUCKET}/custom/gateway.tf`);
    expect(error.message).toContain('customGatewayTfKey');
  });
});

describe('Preflight handler against moto: detach-vpc and drift-check use the deployed gateway', () => {
  test('detach-vpc on the deployed 0.8.1: its bundle, change "same", and the create_vpc warning', async () => {
    const result = await pass(event({ operation: 'detach-vpc' }, { gatewayName: 'gw-redeploy' }));
    expect(result).toMatchObject({
      operation: 'detach-vpc',
      gateway: 'gw-redeploy',
      version: '0.8.1',
      change: 'same',
      previousVersion: '0.8.1',
      bundle: { key: BUNDLE_KEY, versionId: goodZipVersionId },
    });
    expect(result.warnings).toEqual([expect.stringContaining('module.create_vpc is still true')]);
    expect(logLines.join('\n')).toContain('preflight warning');
  });

  test('drift-check with nothing deployed → InputError naming the gateway', async () => {
    const error = await refusal(InputError, event({ operation: 'drift-check' }));
    expect(error.message).toBe('nothing deployed for gateway gw-it: drift-check needs a deployed gateway (deploy a version first)');
  });
});

describe('Preflight handler against moto: the operator\'s subnets (create_vpc = false), with the real DescribeSubnets', () => {
  let vpcId: string;
  let otherVpcId: string;
  const roomy: string[] = [];
  const small: string[] = [];
  let elsewhere: string;

  beforeAll(async () => {
    const ec2 = ec2Client();
    try {
      const vpc = async (cidr: string) => (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
      const subnet = async (vpc: string, cidr: string, zone: string) =>
        (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: cidr, AvailabilityZone: `${TEST_REGION}${zone}` }))).Subnet!.SubnetId!;
      vpcId = await vpc('10.20.0.0/16');
      otherVpcId = await vpc('10.30.0.0/16');
      // The seed's reference: three /24 subnets (AWS keeps 5 addresses of each: 251 free).
      for (const [i, zone] of ['a', 'b', 'c'].entries()) roomy.push(await subnet(vpcId, `10.20.${i}.0/24`, zone));
      // Two /28: 11 free addresses each.
      for (const [i, zone] of ['a', 'b'].entries()) small.push(await subnet(vpcId, `10.20.${10 + i}.0/28`, zone));
      elsewhere = await subnet(otherVpcId, '10.30.0.0/24', 'a');
    } finally {
      ec2.destroy();
    }
  });

  const reuse = (subnetIds: string[], extra: Record<string, unknown> = {}) => ({ module: { create_vpc: false, vpc_id: vpcId, node_subnet_ids: subnetIds }, ...extra });

  test('three /24 subnets like the reference setup: no warning', async () => {
    const result = await pass(event({ version: '0.8.1' }, reuse(roomy)));
    expect(result.warnings).toEqual([]);
  });

  test('two /28 subnets: a warning with the free addresses moto reports (11 each)', async () => {
    const result = await pass(event({ version: '0.8.1' }, reuse(small)));
    expect(result.warnings).toEqual([expect.stringContaining(`module.node_subnet_ids have 22 free IP addresses together (${small[0]}: 11, ${small[1]}: 11), fewer than 254`)]);
  });

  test('the threshold from vpcReuse.minFreeSubnetAddresses', async () => {
    expect((await pass(event({ version: '0.8.1' }, reuse(small, { vpcReuse: { minFreeSubnetAddresses: 22 } })))).warnings).toEqual([]);
  });

  test('a subnet that does not exist → ConfigError naming it (and only it)', async () => {
    const missing = 'subnet-0123456789abcdef0';
    const error = await refusal(ConfigError, event({ version: '0.8.1' }, reuse([roomy[0], missing, roomy[1]])));
    expect(error.message).toContain(`module.node_subnet_ids: 1 subnet not found in the target account and region: ${missing} `);
  });

  test('a subnet of another VPC → ConfigError naming the subnet and both VPCs', async () => {
    const error = await refusal(ConfigError, event({ version: '0.8.1' }, reuse([roomy[0], elsewhere])));
    expect(error.message).toBe(`module.node_subnet_ids: ${elsewhere} is in ${otherVpcId}, not in module.vpc_id ${vpcId}`);
  });
});
