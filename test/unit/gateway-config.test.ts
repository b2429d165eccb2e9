import { ConfigError } from '../../lambdas/shared/domain/errors';
import { formatPath } from '../../lambdas/shared/domain/issues';
import {
  RENDERED_MODULE_INPUTS,
  gatewayConfigSchema,
  parseConfigJson,
  parseGatewayConfig,
  type GatewayConfigInput,
} from '../../lambdas/shared/domain/gateway-config';

const MINIMAL = {
  gatewayName: 'gateway',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: 'apheris/gateway/values',
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
} satisfies GatewayConfigInput;

/** Every field the seed HOWTO mentions, plus the deployer's own settings. */
const FULL = {
  gatewayName: 'hospital-gw',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: 'apheris/hospital-gw/values',
  module: {
    enable_nvidia_gpu: true,
    helm_chart_version: '0.16.20',
    aws_auth_roles: [
      { rolearn: 'arn:aws:iam::123456789012:role/cluster-admin', username: 'cluster-admin', groups: ['system:masters'] },
      { rolearn: 'arn:aws:iam::123456789012:role/path/to/ops', username: 'ops' },
    ],
    aws_auth_users: [{ userarn: 'arn:aws:iam::123456789012:user/alice', username: 'alice', groups: ['system:masters'] }],
    additional_data_buckets: ['hospital-imaging-data', 'hospital.genomics.v2'],
    karpenter_node_pools: {
      'expensive-pool': {
        instance_families: ['p4d', 'p5'],
        capacity_type: ['on-demand'],
        taints: [
          { key: 'nvidia.com/gpu', effect: 'NoSchedule' },
          { key: 'example.com/expensive', effect: 'NoSchedule' },
        ],
      },
      gpu: { instance_families: ['g5'], capacity_type: ['spot', 'on-demand'], taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }] },
      general: { instance_families: ['c7g', 'm6g'], limits: { cpu: 256 } },
    },
    create_vpc: false,
    vpc_id: 'vpc-045da9dc92fb2a887',
    node_subnet_ids: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'],
    extra_inputs: { cluster_version: '1.31', tags: { team: 'research' } },
  },
  addDeployerRoleToAwsAuth: false,
  helmValues: {
    nodePoolMapping: { '4': 'example.com/expensive', '8': 'example.com/expensive' },
    extra: [{ agent: { logLevel: 'debug' } }, { dal: { cache: { enabled: true } } }],
  },
  customGatewayTfKey: 'custom/hospital-gw/gateway.tf',
  terraform: { version: '1.10.5' },
  backend: {
    bucket: 'terraform-s3-bucket',
    key: 'terraform.tfstate',
    region: 'eu-west-1',
    useLockfile: false,
    dynamodbTable: 'terraform-dynamodb-table',
  },
  notifications: { supportEmails: ['support@apheris.com', 'ops@hospital.example'], operatorEmails: ['oncall@hospital.example'] },
  bundle: { releasesPrefix: 'vendor/apheris/', maxBytes: 1024, maxEntries: 10, maxUncompressedBytes: 4096 },
  approval: {
    approvers: ['arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_GatewayOperators_*', 'arn:aws:iam::123456789012:user/alice'],
    timeoutHours: 12,
  },
  releaseUploaders: ['arn:aws:iam::123456789012:role/ReleaseUploader'],
} satisfies GatewayConfigInput;

function messageOf(raw: unknown): string {
  try {
    parseGatewayConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected parseGatewayConfig to throw');
}

function withModule(module: Record<string, unknown>): Record<string, unknown> {
  return { ...MINIMAL, module };
}

describe('parseGatewayConfig: valid configurations', () => {
  test('a minimal configuration gets every default', () => {
    expect(parseGatewayConfig(MINIMAL)).toEqual({
      ...MINIMAL,
      module: { aws_auth_roles: [], aws_auth_users: [], additional_data_buckets: [], extra_inputs: {} },
      addDeployerRoleToAwsAuth: true,
      helmValues: { extra: [] },
      terraform: {
        version: '1.11.4',
        managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
        planManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
        providerVersions: { aws: '5.100.0', helm: '2.17.0', kubectl: '1.14.0', kubernetes: '2.36.0' },
      },
      approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'], timeoutHours: 24, autoApproveS3Upgrades: false },
      verify: {
        kubectlVersion: '1.32.4',
        kubectlSha256: 'c6f96d0468d6976224f5f0d81b65e1a63b47195022646be83e49d38389d572c2',
        helmVersion: '3.17.3',
        helmSha256: '7944e3defd386c76fd92d9e6fec5c2d65a323f6fadc19bfb5e704e3eee10348e',
        rolloutTimeoutMinutes: 10,
        helmTestTimeoutMinutes: 10,
      },
      backend: { useLockfile: true },
      notifications: { supportEmails: ['support@apheris.com'], operatorEmails: [] },
      bundle: { releasesPrefix: 'releases/', maxBytes: 50 * 1024 * 1024, maxEntries: 5000, maxUncompressedBytes: 256 * 1024 * 1024 },
      vpcReuse: { minFreeSubnetAddresses: 254 },
      valuesSecretKeys: [],
      releaseTrigger: { allowPrereleases: false, maxMajorStep: 1 },
    });
  });

  test('vpcReuse.minFreeSubnetAddresses: a whole number, 0 or more', () => {
    expect(parseGatewayConfig({ ...MINIMAL, vpcReuse: { minFreeSubnetAddresses: 0 } }).vpcReuse.minFreeSubnetAddresses).toBe(0);
    expect(() => parseGatewayConfig({ ...MINIMAL, vpcReuse: { minFreeSubnetAddresses: -1 } })).toThrow('vpcReuse.minFreeSubnetAddresses');
    expect(() => parseGatewayConfig({ ...MINIMAL, vpcReuse: { minFreeSubnetAddresses: 1.5 } })).toThrow('vpcReuse.minFreeSubnetAddresses');
    expect(() => parseGatewayConfig({ ...MINIMAL, vpcReuse: { minFree: 10 } })).toThrow('vpcReuse.minFree: unknown field');
  });

  test('a full configuration parses and keeps every field', () => {
    const config = parseGatewayConfig(FULL);
    expect(config.module.aws_auth_roles[1]).toEqual({ rolearn: 'arn:aws:iam::123456789012:role/path/to/ops', username: 'ops', groups: ['system:masters'] });
    expect(config.module.aws_auth_users).toEqual(FULL.module.aws_auth_users);
    expect(config.module.additional_data_buckets).toEqual(['hospital-imaging-data', 'hospital.genomics.v2']);
    expect(config.module.karpenter_node_pools?.general).toEqual({ instance_families: ['c7g', 'm6g'], limits: { cpu: 256 } });
    expect(config.module.karpenter_node_pools?.['expensive-pool'].taints).toHaveLength(2);
    expect(config.module.create_vpc).toBe(false);
    expect(config.module.vpc_id).toBe('vpc-045da9dc92fb2a887');
    expect(config.module.node_subnet_ids).toHaveLength(2);
    expect(config.module.extra_inputs).toEqual({ cluster_version: '1.31', tags: { team: 'research' } });
    expect(config.helmValues).toEqual(FULL.helmValues);
    expect(config.customGatewayTfKey).toBe('custom/hospital-gw/gateway.tf');
    expect(config.terraform.version).toBe('1.10.5');
    expect(config.backend).toEqual(FULL.backend);
    expect(config.notifications).toEqual(FULL.notifications);
    expect(config.bundle).toEqual(FULL.bundle);
    expect(config.addDeployerRoleToAwsAuth).toBe(false);
  });

  test('partial sections get their own defaults', () => {
    const config = parseGatewayConfig({ ...MINIMAL, backend: { bucket: 'my-state' }, notifications: { operatorEmails: ['a@b.example'] } });
    expect(config.backend).toEqual({ bucket: 'my-state', useLockfile: true });
    expect(config.notifications).toEqual({ supportEmails: ['support@apheris.com'], operatorEmails: ['a@b.example'] });
  });

  test.each(['eu-central-1', 'us-east-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1', 'il-central-1', 'us-isob-east-1'])(
    'region %s is accepted',
    (region) => {
      expect(parseGatewayConfig({ ...MINIMAL, target: { ...MINIMAL.target, region } }).target.region).toBe(region);
    },
  );

  test('a Graviton pool without a taint is fine', () => {
    expect(() => parseGatewayConfig(withModule({ karpenter_node_pools: { arm: { instance_families: ['c7g', 'm7g', 'r7g'] } } }))).not.toThrow();
  });

  test('the error source can be named', () => {
    expect(() => parseGatewayConfig({}, 'config/hospital.json')).toThrow(/^config\/hospital\.json is invalid:/);
  });
});

describe('parseGatewayConfig: errors name the field', () => {
  test.each([
    ['target.account', { target: { account: '12345678901', region: 'eu-central-1' } }, 'must be a 12-digit AWS account id'],
    ['target.account', { target: { account: '1234567890123', region: 'eu-central-1' } }, 'must be a 12-digit AWS account id'],
    ['target.region', { target: { account: '123456789012', region: 'eu-central' } }, 'must be an AWS region'],
    ['target.region', { target: { account: '123456789012', region: 'EU-CENTRAL-1' } }, 'must be an AWS region'],
    ['target.region', { target: { account: '123456789012', region: 'frankfurt' } }, 'must be an AWS region'],
    ['gatewayName', { gatewayName: 'Gateway' }, 'must be 2-32 lowercase letters'],
    ['gatewayName', { gatewayName: 'g' }, 'must be 2-32 lowercase letters'],
    ['gatewayName', { gatewayName: '1gw' }, 'must be 2-32 lowercase letters'],
    ['gatewayName', { gatewayName: 'gw-' }, 'must be 2-32 lowercase letters'],
    ['gatewayName', { gatewayName: 'g'.repeat(33) }, 'must be 2-32 lowercase letters'],
    ['valuesSecretName', { valuesSecretName: 'has space' }, 'must be a Secrets Manager secret name'],
    ['customGatewayTfKey', { customGatewayTfKey: 'custom/gateway.tf.json' }, 'must be an S3 key ending in .tf'],
    ['terraform.version', { terraform: { version: '1.11' } }, 'must be a version such as'],
    ['backend.bucket', { backend: { bucket: 'Terraform_Bucket' } }, 'must be an S3 bucket name'],
    ['backend.region', { backend: { region: 'nowhere' } }, 'must be an AWS region'],
    ['backend.dynamodbTable', { backend: { dynamodbTable: 'a b' } }, 'must be a DynamoDB table name'],
    ['notifications.supportEmails[0]', { notifications: { supportEmails: ['support-at-apheris.com'] } }, 'must be an e-mail address'],
    ['notifications.operatorEmails[1]', { notifications: { operatorEmails: ['a@b.example', 'nope'] } }, 'must be an e-mail address'],
    ['bundle.releasesPrefix', { bundle: { releasesPrefix: 'releases' } }, 'must be an S3 prefix ending in "/"'],
    ['bundle.maxBytes', { bundle: { maxBytes: 0 } }, ''],
  ])('%s', (path, patch, reason) => {
    const message = messageOf({ ...MINIMAL, ...patch });
    expect(message).toContain(`- ${path}: ${reason}`);
  });

  test.each([
    ['module.aws_auth_roles[0].rolearn', { aws_auth_roles: [{ rolearn: 'arn:aws:iam::123456789012:user/alice', username: 'a' }] }, 'must be an IAM role ARN'],
    ['module.aws_auth_roles[0].rolearn', { aws_auth_roles: [{ rolearn: 'arn:aws:iam::ACCOUNT_ID:role/ROLE', username: 'a' }] }, 'must be an IAM role ARN'],
    ['module.aws_auth_users[0].userarn', { aws_auth_users: [{ userarn: 'arn:aws:iam::123456789012:role/x', username: 'u' }] }, 'must be an IAM user ARN'],
    ['module.aws_auth_roles[0].username', { aws_auth_roles: [{ rolearn: 'arn:aws:iam::123456789012:role/x', username: '' }] }, ''],
    ['module.additional_data_buckets[0]', { additional_data_buckets: ['EXAMPLE_BUCKET_NAME'] }, 'must be an S3 bucket name'],
    ['module.helm_chart_version', { helm_chart_version: 'latest' }, 'must be a version such as 0.16.20'],
    ['module.vpc_id', { create_vpc: false, vpc_id: 'vpc_1', node_subnet_ids: ['subnet-0a'] }, 'must be a VPC id'],
    ['module.node_subnet_ids[0]', { create_vpc: false, vpc_id: 'vpc-0a', node_subnet_ids: ['sn-1'] }, 'must be a subnet id'],
    ['module.karpenter_node_pools.pool.instance_families', { karpenter_node_pools: { pool: { instance_families: [] } } }, 'must name at least one instance family'],
  ])('%s', (path, module, reason) => {
    expect(messageOf(withModule(module))).toContain(`- ${path}: ${reason}`);
  });

  test('a second role with a bad ARN is named by its index', () => {
    const message = messageOf(
      withModule({
        aws_auth_roles: [
          { rolearn: 'arn:aws:iam::123456789012:role/ok', username: 'ok' },
          { rolearn: 'arn:aws:iam::123456789012:rol/bad', username: 'bad' },
        ],
      }),
    );
    expect(message).toContain('- module.aws_auth_roles[1].rolearn: must be an IAM role ARN');
    expect(message).not.toContain('aws_auth_roles[0]');
  });

  // Regression (found by these tests, fixed): zod 4 reports a bad record key as "Invalid key in record" and nests the key schema's own
  // message in issue.issues, which formatIssues does not print; the three custom key messages
  // ('must be a Terraform variable name', 'node pool names are DNS labels', 'keys are GPU counts such as "4"')
  // never reach the operator. The path is right; these tests also expect the explanation.
  test('a nodePoolMapping key that is not a GPU count is refused with its explanation', () => {
    const message = messageOf({ ...MINIMAL, helmValues: { nodePoolMapping: { four: 'example.com/expensive' } } });
    expect(message).toContain('- helmValues.nodePoolMapping.four: keys are GPU counts such as "4"');
  });

  test('a nodePoolMapping key that is not a GPU count is refused, naming the key', () => {
    expect(messageOf({ ...MINIMAL, helmValues: { nodePoolMapping: { '0': 'x' } } })).toContain('- helmValues.nodePoolMapping["0"]:');
  });

  test('a bad extra_inputs key is refused with its explanation', () => {
    expect(messageOf(withModule({ extra_inputs: { BadName: 1 } }))).toContain('- module.extra_inputs.BadName: must be a Terraform variable name');
  });

  test('a bad extra_inputs key is refused, naming the key', () => {
    expect(messageOf(withModule({ extra_inputs: { 'bad-name': 1 } }))).toContain('- module.extra_inputs["bad-name"]:');
  });

  test('a node pool name that is not a DNS label is refused', () => {
    expect(messageOf(withModule({ karpenter_node_pools: { GPU_Pool: { instance_families: ['m5'] } } }))).toContain('- module.karpenter_node_pools.GPU_Pool:');
  });

  test('a node pool name that is not a DNS label is refused with its explanation', () => {
    expect(messageOf(withModule({ karpenter_node_pools: { GPU_Pool: { instance_families: ['m5'] } } }))).toContain('node pool names are DNS labels');
  });

  test('a taint with an unknown effect is refused', () => {
    const message = messageOf(withModule({ karpenter_node_pools: { gpu: { instance_families: ['g5'], taints: [{ key: 'nvidia.com/gpu', effect: 'Never' }] } } }));
    expect(message).toContain('- module.karpenter_node_pools.gpu.taints[0].effect:');
  });

  test.each([
    ['without vpc_id or subnets', { create_vpc: false }],
    ['without subnets', { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887' }],
    ['with an empty subnet list', { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: [] }],
    ['without vpc_id', { create_vpc: false, node_subnet_ids: ['subnet-0a1b'] }],
  ])('create_vpc = false %s is refused', (_, module) => {
    expect(messageOf(withModule(module))).toContain('- module.create_vpc: create_vpc = false needs vpc_id and node_subnet_ids');
  });

  test.each([
    ['vpc_id alone', { vpc_id: 'vpc-045da9dc92fb2a887' }],
    ['node_subnet_ids alone', { node_subnet_ids: ['subnet-0a1b'] }],
    ['vpc_id with create_vpc true', { create_vpc: true, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0a1b'] }],
  ])('%s is refused', (_, module) => {
    expect(messageOf(withModule(module))).toContain('- module.vpc_id: vpc_id and node_subnet_ids are only used with create_vpc = false');
  });

  test.each(RENDERED_MODULE_INPUTS.map((name) => [name]))('extra_inputs.%s collides with a rendered input', (name) => {
    const message = messageOf(withModule({ extra_inputs: { [name]: 'x' } }));
    expect(message).toContain(`- module.extra_inputs.${name}: "${name}" is rendered by the deployer; set it in its own field`);
  });

  // Regression (found by these tests, fixed): Terraform's module meta-arguments are accepted as extra_inputs and rendered into the module
  // block, where e.g. `count = 0` would plan the destruction of the whole gateway. No module can declare a
  // variable with these names, so they can never be legitimate "other inputs of the module".
  test.each(['count', 'for_each', 'depends_on', 'providers', 'version'])('extra_inputs.%s (a module meta-argument) is refused', (name) => {
    expect(messageOf(withModule({ extra_inputs: { [name]: name === 'count' ? 0 : 'x' } }))).toContain(`module.extra_inputs.${name}`);
  });

  test('an unknown top-level key is refused, naming it', () => {
    expect(messageOf({ ...MINIMAL, gatewayname: 'x' })).toContain('- gatewayname: unknown field');
  });

  test.each([
    ['target', { ...MINIMAL, target: { ...MINIMAL.target, profile: 'x' } }, 'target.profile'],
    ['module', withModule({ enable_gpu: true }), 'module.enable_gpu'],
    ['backend', { ...MINIMAL, backend: { dynamodb_table: 'x' } }, 'backend.dynamodb_table'],
    ['aws_auth_roles[0]', withModule({ aws_auth_roles: [{ rolearn: 'arn:aws:iam::123456789012:role/x', username: 'a', group: [] }] }), 'module.aws_auth_roles[0].group'],
  ])('an unknown key in %s is refused, naming its path', (_, raw, path) => {
    expect(messageOf(raw)).toContain(`- ${path}: unknown field`);
  });

  test.each(['gatewayName', 'target', 'valuesSecretName'])('missing %s is named', (key) => {
    const raw: Record<string, unknown> = { ...MINIMAL };
    delete raw[key];
    expect(messageOf(raw)).toContain(`- ${key}:`);
  });

  test.each([
    ['null', null],
    ['a string', 'gateway'],
    ['an array', [MINIMAL]],
  ])('%s is refused at the top level', (_, raw) => {
    expect(messageOf(raw)).toContain('- (top level):');
  });

  test('several problems are all listed', () => {
    const message = messageOf({ ...MINIMAL, target: { account: 'x', region: 'y' }, notifications: { supportEmails: ['z'] } });
    expect(message.split('\n')).toHaveLength(4);
  });
});

describe('parseGatewayConfig: pinned kubectl and helm digests', () => {
  const digest = 'a'.repeat(64);

  test('the default versions get the committed digests of their linux/arm64 downloads', () => {
    expect(parseGatewayConfig(MINIMAL).verify).toMatchObject({
      kubectlVersion: '1.32.4',
      kubectlSha256: 'c6f96d0468d6976224f5f0d81b65e1a63b47195022646be83e49d38389d572c2',
      helmVersion: '3.17.3',
      helmSha256: '7944e3defd386c76fd92d9e6fec5c2d65a323f6fadc19bfb5e704e3eee10348e',
    });
  });

  test('a digest given in the config wins, and a second parse is the identity', () => {
    const config = parseGatewayConfig({ ...MINIMAL, verify: { kubectlSha256: digest, helmSha256: digest } });
    expect(config.verify).toMatchObject({ kubectlSha256: digest, helmSha256: digest });
    expect(parseGatewayConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  test('a version without a committed digest needs one in the config, naming the field and where it is published', () => {
    expect(() => parseGatewayConfig({ ...MINIMAL, verify: { kubectlVersion: '1.33.1' } })).toThrow(
      '- verify.kubectlSha256: kubectl 1.33.1 has no built-in checksum: give the sha256 of its linux/arm64 download (published at https://dl.k8s.io/release/v1.33.1/bin/linux/arm64/kubectl.sha256; compare it with a copy you trust)',
    );
    expect(() => parseGatewayConfig({ ...MINIMAL, verify: { helmVersion: '3.16.0' } })).toThrow(/verify\.helmSha256: helm 3\.16\.0 has no built-in checksum/);
    expect(parseGatewayConfig({ ...MINIMAL, verify: { helmVersion: '3.16.0', helmSha256: digest } }).verify.helmSha256).toBe(digest);
    expect(parseGatewayConfig({ ...MINIMAL, verify: { helmVersion: '3.18.4' } }).verify.helmSha256).toMatch(/^c0a45e67/);
  });

  test.each([['sha256:' + 'a'.repeat(64)], ['A'.repeat(64)], ['abc']])('%s is refused, naming the field and the form', (bad) => {
    expect(() => parseGatewayConfig({ ...MINIMAL, verify: { helmSha256: bad } })).toThrow(/verify\.helmSha256[\s\S]*sha256 in hex/);
  });
});

describe('parseGatewayConfig: GPU node pools', () => {
  test.each([
    ['gpu', ['g5']],
    ['training', ['p4d']],
    ['mixed', ['c7g', 'p5']],
  ])('pool %s %j without the taint is refused, naming the pool and nvidia.com/gpu', (pool, families) => {
    const message = messageOf(withModule({ karpenter_node_pools: { [pool]: { instance_families: families } } }));
    expect(message).toContain(`- ${formatPath(['module', 'karpenter_node_pools', pool, 'taints'])}: node pool "${pool}"`);
    expect(message).toContain('nvidia.com/gpu');
  });

  test('a hyphenated pool name is quoted in the path', () => {
    const message = messageOf(withModule({ karpenter_node_pools: { 'gpu-pool': { instance_families: ['g5'] } } }));
    expect(message).toContain('- module.karpenter_node_pools["gpu-pool"].taints: node pool "gpu-pool"');
  });

  test('a GPU pool tainted PreferNoSchedule is refused', () => {
    const message = messageOf(
      withModule({ karpenter_node_pools: { gpu: { instance_families: ['g5'], taints: [{ key: 'nvidia.com/gpu', effect: 'PreferNoSchedule' }] } } }),
    );
    expect(message).toContain('node pool "gpu"');
  });

  test('only the bad pool is reported', () => {
    const message = messageOf(
      withModule({
        karpenter_node_pools: {
          good: { instance_families: ['g5'], taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] },
          bad: { instance_families: ['g6'] },
          arm: { instance_families: ['c7g'] },
        },
      }),
    );
    expect(message).toContain('node pool "bad"');
    expect(message).not.toContain('node pool "good"');
    expect(message).not.toContain('node pool "arm"');
  });

  test('the schema is exported for other callers', () => {
    expect(gatewayConfigSchema.safeParse(MINIMAL).success).toBe(true);
  });
});

describe('formatPath', () => {
  test.each([
    [[], ''],
    [['gatewayName'], 'gatewayName'],
    [['module', 'aws_auth_roles', 0, 'rolearn'], 'module.aws_auth_roles[0].rolearn'],
    [['module', 'karpenter_node_pools', 'gpu-pool', 'taints'], 'module.karpenter_node_pools["gpu-pool"].taints'],
    [['helmValues', 'nodePoolMapping', '4'], 'helmValues.nodePoolMapping["4"]'],
  ] as Array<[PropertyKey[], string]>)('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('parseGatewayConfig: approval and the Terraform role', () => {
  test.each([0, 169, 1.5])('approval.timeoutHours %p is refused', (timeoutHours) => {
    expect(messageOf({ ...MINIMAL, approval: { ...MINIMAL.approval, timeoutHours } })).toContain('- approval.timeoutHours:');
  });

  test('approval settings are kept', () => {
    const approval = { approvers: ['arn:aws:iam::123456789012:user/alice'], timeoutHours: 4, autoApproveS3Upgrades: true };
    expect(parseGatewayConfig({ ...MINIMAL, approval }).approval).toEqual(approval);
  });

  test('an unknown field suggests the closest allowed one, at its own level', () => {
    const message = messageOf({ ...MINIMAL, valuesSecretname: 'x', approval: { ...MINIMAL.approval, timeoutHour: 3 }, module: { aws_auth_role: [] } });
    expect(message).toContain('- valuesSecretname: unknown field — did you mean valuesSecretName?');
    expect(message).toContain('- approval.timeoutHour: unknown field — did you mean timeoutHours?');
    expect(message).toContain('- module.aws_auth_role: unknown field — did you mean aws_auth_roles?');
    expect(messageOf({ ...MINIMAL, somethingElse: 1 }).split('\n')).toContain('- somethingElse: unknown field');
  });

  test('a field left out reads "required"; an account YAML read as a number says to quote it', () => {
    const { valuesSecretName: _v, ...withoutSecret } = MINIMAL;
    expect(messageOf(withoutSecret)).toContain('- valuesSecretName: required');
    expect(messageOf({ ...MINIMAL, target: { account: 11122223333, region: 'eu-central-1' } })).toContain(
      '- target.account: expected text, not a number: quote it (YAML reads unquoted digits as a number and drops leading zeros)',
    );
  });

  test('approval.approvers is required: no default names anyone', () => {
    const { approval: _none, ...withoutApproval } = MINIMAL;
    expect(messageOf(withoutApproval)).toContain('- approval:');
    expect(messageOf({ ...MINIMAL, approval: { timeoutHours: 4 } })).toContain('- approval.approvers:');
    expect(messageOf({ ...MINIMAL, approval: { approvers: [] } })).toContain('- approval.approvers: name at least one approver');
  });

  test.each([
    ['GatewayOperator', 'must be an IAM role ARN'],
    ['arn:aws:iam::123456789012:group/operators', 'must be an IAM role ARN'],
    ['arn:aws:iam::*:role/GatewayOperator', 'must be an IAM role ARN'],
    ['arn:aws:iam::123456789012:role/*', 'names every role of account 123456789012'],
    ['arn:aws:iam::123456789012:user/*', 'names every user of account 123456789012'],
    ['arn:aws:sts::123456789012:assumed-role/GatewayOperator/*', 'names every session of the role'],
  ])('approver %s is refused, naming the entry', (entry, problem) => {
    expect(messageOf({ ...MINIMAL, approval: { approvers: ['arn:aws:iam::123456789012:user/alice', entry] } })).toContain(`- approval.approvers[1]: ${problem}`);
  });

  test('releaseUploaders takes the same forms and may not be empty', () => {
    expect(parseGatewayConfig({ ...MINIMAL, releaseUploaders: ['arn:aws:iam::123456789012:role/Ci'] }).releaseUploaders).toEqual(['arn:aws:iam::123456789012:role/Ci']);
    expect(messageOf({ ...MINIMAL, releaseUploaders: [] })).toContain('- releaseUploaders: name at least one uploader');
    expect(messageOf({ ...MINIMAL, releaseUploaders: ['ci'] })).toContain('- releaseUploaders[0]: must be an IAM role ARN');
  });

  test('Terraform before 1.10 and an AWS provider before 5.83 are refused: the cluster token is minted at Apply', () => {
    expect(messageOf({ ...MINIMAL, terraform: { version: '1.9.8' } })).toContain('- terraform.version: must be 1.10.0 or later');
    expect(messageOf({ ...MINIMAL, terraform: { providerVersions: { aws: '5.82.2' } } })).toContain('- terraform.providerVersions.aws: must be 5.83.0 or later');
    expect(messageOf({ ...MINIMAL, terraform: { providerVersions: { helm: '~> 2.0' } } })).toContain('- terraform.providerVersions.helm: must be an exact provider version');
    expect(parseGatewayConfig(MINIMAL).terraform.providerVersions).toEqual({ aws: '5.100.0', helm: '2.17.0', kubectl: '1.14.0', kubernetes: '2.36.0' });
  });

  test('a managed policy that is not an IAM policy ARN is named', () => {
    expect(messageOf({ ...MINIMAL, terraform: { managedPolicyArns: ['AdministratorAccess'] } })).toContain('- terraform.managedPolicyArns[0]: must be an IAM managed policy ARN');
  });

  test('a customer policy and a permissions boundary are accepted', () => {
    const terraform = { managedPolicyArns: ['arn:aws:iam::123456789012:policy/gw'], permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary' };
    expect(parseGatewayConfig({ ...MINIMAL, terraform }).terraform).toMatchObject(terraform);
  });
});

describe('parseConfigJson: the config a Lambda is handed', () => {
  // Synth validates the config and the state machine hands the result to each task as JSON; the task parses it
  // again with the same schema, which must change nothing.
  test.each([
    ['minimal', MINIMAL],
    ['full', FULL],
  ] as const)('the %s config, as parsed at synth, parses to itself', (_, raw) => {
    const atSynth = parseGatewayConfig(raw);
    expect(parseConfigJson(JSON.stringify(atSynth))).toEqual(atSynth);
  });

  test('a config edited after synth is refused with the same message as at synth', () => {
    const edited = { ...parseGatewayConfig(MINIMAL), gatewayName: 'Bad_Name' };
    expect(() => parseConfigJson(JSON.stringify(edited))).toThrow(
      'gateway settings is invalid:\n- gatewayName: must be 2-32 lowercase letters, digits or hyphens, starting with a letter',
    );
  });

  test('default messages are zod\'s English ones (zod/mini installs no locale by itself)', () => {
    expect(messageOf({ ...MINIMAL, approval: { timeoutHours: 'soon' } })).toContain('- approval.timeoutHours: Invalid input: expected number, received string');
    expect(messageOf({ ...MINIMAL, notifications: { operatorEmails: ['not-an-address'] } })).toContain('- notifications.operatorEmails[0]: must be an e-mail address');
  });

  test.each([
    [undefined, 'task payload has no "config" JSON string'],
    ['{not json', 'task payload "config" is not valid JSON'],
  ])('a payload without config JSON (%p) is refused', (text, message) => {
    expect(() => parseConfigJson(text)).toThrow(message);
  });
});
