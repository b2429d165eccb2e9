import { parse as parseYaml } from 'yaml';
import { parseGatewayConfig, type GatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import {
  HELM_CREDENTIAL_VARIABLES,
  PLAN_READERS_GROUP,
  PLAN_READER_ACCESS_FILE,
  PROVIDER_SOURCES,
  REQUIRED_TERRAFORM,
  generatedHelmValues,
  literal,
  renderBackend,
  renderOutputs,
  renderWorkspace,
  resolveBackend,
  type BackendSettings,
  type WorkspaceContext,
  type WorkspaceFile,
} from '../../lambdas/shared/domain/workspace';

const ACCOUNT = '123456789012';
const DEPLOYER_ROLE = `arn:aws:iam::${ACCOUNT}:role/gateway-deployer-terraform`;
const STATE_BUCKET = 'gateway-deployer-state-123456789012';
const KMS_KEY = `arn:aws:kms:eu-central-1:${ACCOUNT}:key/1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901`;

const MINIMAL: GatewayConfigInput = {
  gatewayName: 'gateway',
  target: { account: ACCOUNT, region: 'eu-central-1' },
  valuesSecretName: 'apheris/gateway/values',
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
};

function config(patch: Partial<GatewayConfigInput> = {}): GatewayConfig {
  return parseGatewayConfig({ ...MINIMAL, ...patch });
}

function ctx(cfg: GatewayConfig = config(), extra: Partial<WorkspaceContext> = {}): WorkspaceContext {
  return { config: cfg, backend: resolveBackend(cfg, STATE_BUCKET, KMS_KEY), deployerRoleArn: DEPLOYER_ROLE, ...extra };
}

function files(context: WorkspaceContext): Record<string, string> {
  return Object.fromEntries(renderWorkspace(context).map((f: WorkspaceFile) => [f.name, f.content]));
}

type Json = any;

function jsonFile(context: WorkspaceContext, name: string): Json {
  const content = files(context)[name];
  expect(content).toBeDefined();
  return JSON.parse(content);
}

function gatewayModule(context: WorkspaceContext): Record<string, Json> {
  return jsonFile(context, 'gateway.tf.json').module.gateway;
}

describe('renderWorkspace: the files', () => {
  test('renders gateway, providers, backend, variables and outputs as Terraform JSON', () => {
    expect(renderWorkspace(ctx()).map((f) => f.name)).toEqual(['gateway.tf.json', 'providers.tf.json', 'backend.tf.json', 'variables.tf.json', 'outputs.tf.json']);
  });

  test('every file is valid JSON ending in a newline', () => {
    for (const file of renderWorkspace(ctx())) {
      expect(() => JSON.parse(file.content)).not.toThrow();
      expect(file.content.endsWith('\n')).toBe(true);
    }
  });

  test('a customized gateway.tf replaces gateway.tf.json verbatim', () => {
    const custom = 'module "gateway" {\n  source = "./gateway"\n  name   = "${var.x}"\n}\n';
    const rendered = renderWorkspace(ctx(config(), { customGatewayTf: custom }));
    expect(rendered.map((f) => f.name)).toEqual(['gateway.tf', 'providers.tf.json', 'backend.tf.json', 'variables.tf.json', 'outputs.tf.json']);
    expect(rendered[0].content).toBe(custom);
    expect(rendered.some((f) => f.name === 'gateway.tf.json')).toBe(false);
  });

  test('an empty customized gateway.tf still replaces the rendered one', () => {
    const rendered = files(ctx(config(), { customGatewayTf: '' }));
    expect(rendered['gateway.tf']).toBe('');
    expect(rendered['gateway.tf.json']).toBeUndefined();
  });
});

describe('gateway.tf.json', () => {
  test('the minimal module block follows the seed', () => {
    expect(gatewayModule(ctx(config(), { deployerRoleArn: undefined }))).toEqual({
      source: './gateway',
      name: 'gateway',
      helm_repository_username: '${var.helm_repository_username}',
      helm_repository_password: '${var.helm_repository_password}',
      helm_chart_values: ['${sensitive(file("${path.root}/values.yaml"))}'],
      aws_auth_roles: [],
      aws_auth_users: [],
    });
  });

  test('source and name', () => {
    const m = gatewayModule(ctx(config({ gatewayName: 'hospital-gw' })));
    expect(m.source).toBe('./gateway');
    expect(m.name).toBe('hospital-gw');
  });

  test('the Helm credentials are variable references, never values', () => {
    const m = gatewayModule(ctx());
    expect(m.helm_repository_username).toBe('${var.helm_repository_username}');
    expect(m.helm_repository_password).toBe('${var.helm_repository_password}');
  });

  test('the first Helm values document is the sensitive values.yaml file', () => {
    expect(gatewayModule(ctx()).helm_chart_values[0]).toBe('${sensitive(file("${path.root}/values.yaml"))}');
  });

  test.each([
    'enable_nvidia_gpu',
    'helm_chart_version',
    'additional_data_buckets',
    'karpenter_node_pools',
    'create_vpc',
    'vpc_id',
    'node_subnet_ids',
  ])('%s is absent when not configured', (input) => {
    expect(gatewayModule(ctx())).not.toHaveProperty(input);
  });

  test('optional inputs are passed when configured', () => {
    const m = gatewayModule(
      ctx(
        config({
          module: {
            enable_nvidia_gpu: false,
            helm_chart_version: '0.16.20',
            additional_data_buckets: ['example-bucket'],
            karpenter_node_pools: { general: { instance_families: ['m5'], capacity_type: ['spot'] } },
            create_vpc: false,
            vpc_id: 'vpc-045da9dc92fb2a887',
            node_subnet_ids: ['subnet-0a1b', 'subnet-0c2d'],
          },
        }),
      ),
    );
    expect(m.enable_nvidia_gpu).toBe(false);
    expect(m.helm_chart_version).toBe('0.16.20');
    expect(m.additional_data_buckets).toEqual(['example-bucket']);
    expect(m.karpenter_node_pools).toEqual({ general: { instance_families: ['m5'], capacity_type: ['spot'] } });
    expect(m.create_vpc).toBe(false);
    expect(m.vpc_id).toBe('vpc-045da9dc92fb2a887');
    expect(m.node_subnet_ids).toEqual(['subnet-0a1b', 'subnet-0c2d']);
  });

  test('create_vpc = true is passed as given', () => {
    expect(gatewayModule(ctx(config({ module: { create_vpc: true } }))).create_vpc).toBe(true);
  });

  test('additional_data_buckets renders a dal.sources.s3 Helm values document', () => {
    const m = gatewayModule(ctx(config({ module: { additional_data_buckets: ['imaging-data', 'genomics-data'] } })));
    expect(m.helm_chart_values).toHaveLength(2);
    expect(parseYaml(m.helm_chart_values[1])).toEqual({ dal: { sources: { s3: ['imaging-data', 'genomics-data'] } } });
  });

  test('nodePoolMapping renders a job.nodePoolMapping document with string GPU-count keys', () => {
    const m = gatewayModule(ctx(config({ helmValues: { nodePoolMapping: { '4': 'example.com/expensive', '8': 'example.com/expensive' } } })));
    expect(m.helm_chart_values).toHaveLength(2);
    expect(parseYaml(m.helm_chart_values[1])).toEqual({ job: { nodePoolMapping: { '4': 'example.com/expensive', '8': 'example.com/expensive' } } });
  });

  test('the generated documents come in order: values.yaml, dal, job, extras', () => {
    const m = gatewayModule(
      ctx(
        config({
          module: { additional_data_buckets: ['imaging-data'] },
          helmValues: { nodePoolMapping: { '4': 'example.com/expensive' }, extra: [{ agent: { logLevel: 'debug' } }, { a: 1 }] },
        }),
      ),
    );
    const [first, ...rest] = m.helm_chart_values as string[];
    expect(first).toBe('${sensitive(file("${path.root}/values.yaml"))}');
    expect(rest.map((doc) => parseYaml(doc))).toEqual([
      { dal: { sources: { s3: ['imaging-data'] } } },
      { job: { nodePoolMapping: { '4': 'example.com/expensive' } } },
      { agent: { logLevel: 'debug' } },
      { a: 1 },
    ]);
  });

  test('an empty nodePoolMapping renders no document', () => {
    expect(generatedHelmValues(config({ helmValues: { nodePoolMapping: {} } }))).toEqual([]);
  });

  test('no buckets, mapping or extras: only values.yaml', () => {
    expect(generatedHelmValues(config())).toEqual([]);
    expect(gatewayModule(ctx()).helm_chart_values).toHaveLength(1);
  });

  describe('aws_auth_roles and the deployer role', () => {
    const adminRole = { rolearn: `arn:aws:iam::${ACCOUNT}:role/cluster-admin`, username: 'cluster-admin', groups: ['system:masters'] };

    test('the deployer role is appended once', () => {
      const m = gatewayModule(ctx(config({ module: { aws_auth_roles: [adminRole] } })));
      expect(m.aws_auth_roles).toEqual([adminRole, { rolearn: DEPLOYER_ROLE, username: 'gateway-deployer', groups: ['system:masters'] }]);
    });

    test('the deployer role is not duplicated when already listed', () => {
      const listed = { rolearn: DEPLOYER_ROLE, username: 'terraform', groups: ['system:masters'] };
      const m = gatewayModule(ctx(config({ module: { aws_auth_roles: [adminRole, listed] } })));
      expect(m.aws_auth_roles).toEqual([adminRole, listed]);
      expect(m.aws_auth_roles.filter((r: { rolearn: string }) => r.rolearn === DEPLOYER_ROLE)).toHaveLength(1);
    });

    test('the deployer role is not added when addDeployerRoleToAwsAuth is false', () => {
      const m = gatewayModule(ctx(config({ addDeployerRoleToAwsAuth: false, module: { aws_auth_roles: [adminRole] } })));
      expect(m.aws_auth_roles).toEqual([adminRole]);
    });

    test('nothing is added without a deployer role ARN', () => {
      expect(gatewayModule(ctx(config(), { deployerRoleArn: undefined })).aws_auth_roles).toEqual([]);
    });

    describe('the Plan role: read-only in the cluster', () => {
      const PLAN_ROLE = `arn:aws:iam::${ACCOUNT}:role/GatewayDeployer-TerraformPlanRole`;
      const withPlan = (cfg = config()) => ctx(cfg, { planRoleArn: PLAN_ROLE });

      test('joins aws_auth_roles in the plan-readers group, never system:masters', () => {
        const roles = gatewayModule(withPlan()).aws_auth_roles as Array<{ rolearn: string; groups: string[] }>;
        expect(roles).toEqual([
          { rolearn: DEPLOYER_ROLE, username: 'gateway-deployer', groups: ['system:masters'] },
          { rolearn: PLAN_ROLE, username: 'gateway-deployer-plan', groups: [PLAN_READERS_GROUP] },
        ]);
      });

      test('the group is bound to get, list and watch only, applied after the module', () => {
        const rendered = files(withPlan());
        expect(Object.keys(rendered)).toContain(PLAN_READER_ACCESS_FILE);
        const manifests = JSON.parse(rendered[PLAN_READER_ACCESS_FILE]).resource.kubectl_manifest;
        const role = parseYaml(manifests.deployer_plan_reader_role.yaml_body);
        expect(role).toMatchObject({ kind: 'ClusterRole', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] }] });
        expect(manifests.deployer_plan_reader_role.depends_on).toEqual(['module.gateway']);
        const binding = parseYaml(manifests.deployer_plan_reader_binding.yaml_body);
        expect(binding).toMatchObject({ kind: 'ClusterRoleBinding', roleRef: { kind: 'ClusterRole', name: role.metadata.name }, subjects: [{ kind: 'Group', name: PLAN_READERS_GROUP }] });
      });

      test('neither the group nor its binding without addDeployerRoleToAwsAuth, or with a customized gateway.tf', () => {
        expect(Object.keys(files(withPlan(config({ addDeployerRoleToAwsAuth: false }))))).not.toContain(PLAN_READER_ACCESS_FILE);
        expect(Object.keys(files(ctx(config(), { planRoleArn: PLAN_ROLE, customGatewayTf: 'module "gateway" {}' })))).not.toContain(PLAN_READER_ACCESS_FILE);
      });
    });

    test('the configuration is not mutated', () => {
      const cfg = config({ module: { aws_auth_roles: [adminRole] } });
      renderWorkspace(ctx(cfg));
      renderWorkspace(ctx(cfg));
      expect(cfg.module.aws_auth_roles).toEqual([adminRole]);
    });

    test('aws_auth_users pass through with default groups', () => {
      const m = gatewayModule(ctx(config({ module: { aws_auth_users: [{ userarn: `arn:aws:iam::${ACCOUNT}:user/alice`, username: 'alice' }] } })));
      expect(m.aws_auth_users).toEqual([{ userarn: `arn:aws:iam::${ACCOUNT}:user/alice`, username: 'alice', groups: ['system:masters'] }]);
    });
  });

  test('extra_inputs are merged into the module block', () => {
    const m = gatewayModule(ctx(config({ module: { extra_inputs: { cluster_version: '1.31', tags: { team: 'research' }, enable_flag: true } } })));
    expect(m.cluster_version).toBe('1.31');
    expect(m.tags).toEqual({ team: 'research' });
    expect(m.enable_flag).toBe(true);
    expect(m.source).toBe('./gateway');
  });

  describe('literal escaping', () => {
    test.each([
      ['${var.x}', '$${var.x}'],
      ['%{ if true }x%{ endif }', '%%{ if true }x%%{ endif }'],
      ['a ${b} %{c} ${d}', 'a $${b} %%{c} $${d}'],
      ['$${already}', '$$${already}'],
      ['$ and % and {} alone', '$ and % and {} alone'],
      ['', ''],
    ])('literal(%j) → %j', (input, expected) => {
      expect(literal(input)).toBe(expected);
    });

    test('keys, nested arrays and objects are escaped; other types kept', () => {
      expect(literal({ '${k}': ['%{v}', 1, true, null, { x: '${y}' }] })).toEqual({ '$${k}': ['%%{v}', 1, true, null, { x: '$${y}' }] });
    });

    test('config strings containing ${ and %{ are escaped in the module block, keys too', () => {
      const m = gatewayModule(
        ctx(
          config({
            module: {
              aws_auth_roles: [{ rolearn: `arn:aws:iam::${ACCOUNT}:role/\${evil}`, username: '${var.who}', groups: ['%{ if x }g%{ endif }'] }],
              karpenter_node_pools: { general: { instance_families: ['m5'], labels: { '${label}': '%{value}' } } },
              extra_inputs: { tags: { '${key}': 'v ${x}', plain: 'no templates' } },
            },
          }),
          { deployerRoleArn: undefined },
        ),
      );
      expect(m.aws_auth_roles).toEqual([{ rolearn: `arn:aws:iam::${ACCOUNT}:role/$\${evil}`, username: '$${var.who}', groups: ['%%{ if x }g%%{ endif }'] }]);
      expect(m.karpenter_node_pools.general.labels).toEqual({ '$${label}': '%%{value}' });
      expect(m.tags).toEqual({ '$${key}': 'v $${x}', plain: 'no templates' });
    });

    test('generated Helm values documents are escaped', () => {
      const m = gatewayModule(ctx(config({ helmValues: { nodePoolMapping: { '4': '${taint}' }, extra: [{ note: '%{x}' }] } })));
      expect(m.helm_chart_values[1]).toContain('$${taint}');
      expect(m.helm_chart_values[1]).not.toMatch(/(^|[^$])\$\{/);
      expect(m.helm_chart_values[2]).toContain('%%{x}');
    });

    test('only the deployer-written references stay unescaped', () => {
      const content = files(ctx(config({ module: { extra_inputs: { x: '${var.helm_repository_password}' } } })))['gateway.tf.json'];
      const m = JSON.parse(content).module.gateway;
      expect(m.x).toBe('$${var.helm_repository_password}');
      expect(m.helm_repository_password).toBe('${var.helm_repository_password}');
    });
  });
});

describe('providers.tf.json', () => {
  const providers = (cfg = config()) => jsonFile(ctx(cfg), 'providers.tf.json');

  test('the four providers of the HOWTO, each pinned to an exact version (terraform.providerVersions)', () => {
    expect(providers().terraform.required_providers).toEqual({
      aws: { source: 'hashicorp/aws', version: '5.100.0' },
      helm: { source: 'hashicorp/helm', version: '2.17.0' },
      kubectl: { source: 'gavinbunney/kubectl', version: '1.14.0' },
      kubernetes: { source: 'hashicorp/kubernetes', version: '2.36.0' },
    });
    expect(PROVIDER_SOURCES.kubectl).toBe('gavinbunney/kubectl');
    const pinned = providers(config({ terraform: { providerVersions: { aws: '5.90.1', helm: '2.16.1' } } })).terraform.required_providers;
    expect(pinned).toMatchObject({ aws: { version: '5.90.1' }, helm: { version: '2.16.1' }, kubectl: { version: '1.14.0' } });
  });

  test('required_version: 1.10, for the ephemeral cluster token', () => {
    expect(providers().terraform.required_version).toBe('>= 1.10.0');
    expect(REQUIRED_TERRAFORM).toBe('>= 1.10.0');
  });

  test('the aws provider is pinned to the target region and account', () => {
    expect(providers(config({ target: { account: '210987654321', region: 'us-west-2' } })).provider.aws).toEqual({
      region: 'us-west-2',
      allowed_account_ids: ['210987654321'],
    });
  });

  test('helm reaches the cluster through a kubernetes block', () => {
    expect(providers().provider.helm).toEqual({
      kubernetes: {
        host: '${module.gateway.endpoint}',
        cluster_ca_certificate: '${module.gateway.certificate_authority_data}',
        token: '${ephemeral.aws_eks_cluster_auth.default.token}',
      },
    });
  });

  test('kubectl has the cluster connection and load_config_file false', () => {
    expect(providers().provider.kubectl).toEqual({
      host: '${module.gateway.endpoint}',
      cluster_ca_certificate: '${module.gateway.certificate_authority_data}',
      token: '${ephemeral.aws_eks_cluster_auth.default.token}',
      load_config_file: false,
    });
  });

  test('the cluster token is an ephemeral resource, minted when Apply opens it, never a data source saved in the plan', () => {
    expect(providers().ephemeral).toEqual({ aws_eks_cluster_auth: { default: { name: '${module.gateway.cluster_name}' } } });
    expect(providers()).not.toHaveProperty('data');
    expect(JSON.stringify(providers())).not.toContain('data.aws_eks_cluster_auth');
  });

  test('kubernetes gets the same cluster connection; no other providers', () => {
    expect(providers().provider.kubernetes).toEqual(providers().provider.helm.kubernetes);
    expect(Object.keys(providers().provider).sort()).toEqual(['aws', 'helm', 'kubectl', 'kubernetes']);
  });
});

describe('backend', () => {
  test('resolveBackend defaults to the stack bucket, a per-gateway key, the target region and the stack KMS key', () => {
    expect(resolveBackend(config({ gatewayName: 'hospital-gw' }), STATE_BUCKET, KMS_KEY)).toEqual({
      bucket: STATE_BUCKET,
      key: 'gateways/hospital-gw/terraform.tfstate',
      region: 'eu-central-1',
      useLockfile: true,
      kmsKeyId: KMS_KEY,
    });
  });

  test('resolveBackend without a stack KMS key has no kmsKeyId', () => {
    expect(resolveBackend(config(), STATE_BUCKET)).not.toHaveProperty('kmsKeyId');
  });

  test('a configured bucket wins and drops the stack KMS key', () => {
    const backend = resolveBackend(
      config({ backend: { bucket: 'terraform-s3-bucket', key: 'terraform.tfstate', region: 'eu-west-1', useLockfile: false, dynamodbTable: 'terraform-dynamodb-table' } }),
      STATE_BUCKET,
      KMS_KEY,
    );
    expect(backend).toEqual({
      bucket: 'terraform-s3-bucket',
      key: 'terraform.tfstate',
      region: 'eu-west-1',
      useLockfile: false,
      dynamodbTable: 'terraform-dynamodb-table',
    });
  });

  test('a configured bucket alone keeps the default key and region', () => {
    const backend = resolveBackend(config({ gatewayName: 'gw', backend: { bucket: 'my-state' } }), STATE_BUCKET, KMS_KEY);
    expect(backend).toEqual({ bucket: 'my-state', key: 'gateways/gw/terraform.tfstate', region: 'eu-central-1', useLockfile: true });
  });

  test('a configured key in the stack bucket keeps the KMS key', () => {
    const backend = resolveBackend(config({ backend: { key: 'custom/state.tfstate' } }), STATE_BUCKET, KMS_KEY);
    expect(backend).toMatchObject({ bucket: STATE_BUCKET, key: 'custom/state.tfstate', kmsKeyId: KMS_KEY });
  });

  test('backend.tf.json with defaults', () => {
    expect(jsonFile(ctx(config({ gatewayName: 'gw' })), 'backend.tf.json')).toEqual({
      terraform: {
        backend: {
          s3: {
            bucket: STATE_BUCKET,
            key: 'gateways/gw/terraform.tfstate',
            region: 'eu-central-1',
            encrypt: true,
            use_lockfile: true,
            kms_key_id: KMS_KEY,
          },
        },
      },
    });
  });

  test('backend.tf.json with the seed backend', () => {
    const cfg = config({ backend: { bucket: 'terraform-s3-bucket', key: 'terraform.tfstate', region: 'eu-central-1', dynamodbTable: 'terraform-dynamodb-table' } });
    expect(jsonFile(ctx(cfg), 'backend.tf.json').terraform.backend.s3).toEqual({
      bucket: 'terraform-s3-bucket',
      key: 'terraform.tfstate',
      region: 'eu-central-1',
      encrypt: true,
      use_lockfile: true,
      dynamodb_table: 'terraform-dynamodb-table',
    });
  });

  test.each([
    ['dynamodb_table', { bucket: 'b', key: 'k', region: 'eu-central-1', useLockfile: true, kmsKeyId: 'arn:k' }],
    ['kms_key_id', { bucket: 'b', key: 'k', region: 'eu-central-1', useLockfile: true, dynamodbTable: 'locks' }],
  ] as Array<[string, BackendSettings]>)('renderBackend leaves out %s when not set', (absent, backend) => {
    expect(renderBackend(backend)).toEqual({ terraform: { backend: { s3: expect.not.objectContaining({ [absent]: expect.anything() }) } } });
    expect((renderBackend(backend) as Json).terraform.backend.s3).not.toHaveProperty(absent);
  });

  test('use_lockfile false is rendered as false', () => {
    expect((renderBackend({ bucket: 'b', key: 'k', region: 'eu-central-1', useLockfile: false }) as Json).terraform.backend.s3.use_lockfile).toBe(false);
  });

  test('a backend key with a template sequence is escaped', () => {
    expect((renderBackend({ bucket: 'b', key: 'a/${b}/c', region: 'eu-central-1', useLockfile: true }) as Json).terraform.backend.s3.key).toBe('a/$${b}/c');
  });
});

describe('variables.tf.json', () => {
  test('two sensitive string variables for the Helm credentials', () => {
    const { variable } = jsonFile(ctx(), 'variables.tf.json');
    expect(Object.keys(variable).sort()).toEqual(['helm_repository_password', 'helm_repository_username']);
    for (const name of Object.keys(HELM_CREDENTIAL_VARIABLES)) {
      expect(variable[name]).toMatchObject({ type: 'string', sensitive: true });
      expect(variable[name].description).toContain(`TF_VAR_${name}`);
      expect(variable[name]).not.toHaveProperty('default');
    }
  });

  test('each variable is fed by its values key', () => {
    expect(HELM_CREDENTIAL_VARIABLES).toEqual({ helm_repository_username: 'helmRepoUsername', helm_repository_password: 'helmRepoPassword' });
  });
});

describe('no secrets in the workspace', () => {
  const VALUES = {
    tenant: 'tenant-4b1e9c77-canary',
    domain: 'auth.canary-tenant.apheris.example',
    clientId: 'client-id-canary-3f8a',
    clientSecret: 'client-secret-canary-Zq8rT2vX9mK4',
    helmRepoUsername: 'robot-canary-user',
    helmRepoPassword: 'helm-pw-canary-hR7kP2qW9',
  };

  test('no rendered file contains any value of a sample values.yaml', () => {
    const cfg = config({
      gatewayName: 'hospital-gw',
      module: {
        enable_nvidia_gpu: true,
        helm_chart_version: '0.16.20',
        aws_auth_roles: [{ rolearn: `arn:aws:iam::${ACCOUNT}:role/cluster-admin`, username: 'cluster-admin' }],
        additional_data_buckets: ['imaging-data'],
        karpenter_node_pools: { gpu: { instance_families: ['g5'], taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] } },
        create_vpc: false,
        vpc_id: 'vpc-045da9dc92fb2a887',
        node_subnet_ids: ['subnet-0a1b'],
        extra_inputs: { cluster_version: '1.31' },
      },
      helmValues: { nodePoolMapping: { '4': 'nvidia.com/gpu' }, extra: [{ agent: { logLevel: 'info' } }] },
      backend: { dynamodbTable: 'locks' },
    });
    const rendered = renderWorkspace(ctx(cfg));
    for (const file of rendered) {
      for (const value of Object.values(VALUES)) expect(file.content).not.toContain(value);
      expect(file.content).not.toContain('canary');
    }
  });

  test('values.yaml itself is not among the files', () => {
    expect(renderWorkspace(ctx()).map((f) => f.name)).not.toContain('values.yaml');
  });
});

describe('renderOutputs', () => {
  test("exposes the seed's module outputs as root outputs, for terraform output after the apply", () => {
    expect(renderOutputs()).toEqual({
      output: {
        cluster_name: { value: '${module.gateway.cluster_name}' },
        endpoint: { value: '${module.gateway.endpoint}' },
        certificate_authority_data: { value: '${module.gateway.certificate_authority_data}' },
        dal_role_arn: { value: '${module.gateway.dal_role_arn}' },
      },
    });
  });
});
