import { stringify } from 'yaml';
import type { GatewayConfig } from './gateway-config';

/**
 * Renders the HOWTO's deployment folder (gateway.tf, providers.tf, terraform_backend.tf) as Terraform JSON
 * syntax. JSON needs no hand-written HCL printer and no quoting rules, with one exception handled below:
 * Terraform reads every JSON string as a template, so literal text must have `${` and `%{` escaped.
 *
 * No file holds a secret: the values reach Terraform as `file("values.yaml")` (written by CodeBuild, mode 0600)
 * and the Helm repository credentials as sensitive root variables fed by TF_VAR_*.
 */

export const VALUES_FILE = 'values.yaml';
export const MODULE_DIR = 'gateway';

/** The HOWTO's providers.tf: four providers. Their exact versions are terraform.providerVersions (pinned). */
export const PROVIDER_SOURCES = {
  aws: 'hashicorp/aws',
  helm: 'hashicorp/helm',
  kubectl: 'gavinbunney/kubectl',
  kubernetes: 'hashicorp/kubernetes',
} as const;
/** Ephemeral resources (the cluster token minted at Apply) need Terraform 1.10. */
export const REQUIRED_TERRAFORM = '>= 1.10.0';

/** The sensitive root variables, and the keys of the values secret that feed them through TF_VAR_*. */
export const HELM_CREDENTIAL_VARIABLES = {
  helm_repository_username: 'helmRepoUsername',
  helm_repository_password: 'helmRepoPassword',
} as const;

export interface BackendSettings {
  readonly bucket: string;
  readonly key: string;
  readonly region: string;
  readonly useLockfile: boolean;
  readonly dynamodbTable?: string;
  /** SSE-KMS key for the state object, when the state lives in the deployer's own bucket. */
  readonly kmsKeyId?: string;
}

export interface WorkspaceContext {
  readonly config: GatewayConfig;
  readonly backend: BackendSettings;
  /** The role Terraform applies with (Apply, Verify); added to aws_auth_roles as system:masters. */
  readonly deployerRoleArn?: string;
  /** The read-only role Plan runs as; added to aws_auth_roles in PLAN_READERS_GROUP (renderPlanReaderAccess). */
  readonly planRoleArn?: string;
  /** A customized gateway.tf from the vendor (the HOWTO: "Unless you have received a customized gateway.tf file"). */
  readonly customGatewayTf?: string;
}

export interface WorkspaceFile {
  readonly name: string;
  readonly content: string;
}

/** The backend from the config, falling back to the deployer's own state bucket and the target region. */
export function resolveBackend(config: GatewayConfig, stackStateBucket: string, stackKmsKeyArn?: string): BackendSettings {
  const ownBucket = config.backend.bucket === undefined;
  return {
    bucket: config.backend.bucket ?? stackStateBucket,
    key: config.backend.key ?? `gateways/${config.gatewayName}/terraform.tfstate`,
    region: config.backend.region ?? config.target.region,
    useLockfile: config.backend.useLockfile,
    ...(config.backend.dynamodbTable ? { dynamodbTable: config.backend.dynamodbTable } : {}),
    ...(ownBucket && stackKmsKeyArn ? { kmsKeyId: stackKmsKeyArn } : {}),
  };
}

export function renderWorkspace(ctx: WorkspaceContext): WorkspaceFile[] {
  const gatewayFile: WorkspaceFile =
    ctx.customGatewayTf !== undefined
      ? { name: 'gateway.tf', content: ctx.customGatewayTf }
      : json('gateway.tf.json', renderGatewayModule(ctx));
  return [
    gatewayFile,
    json('providers.tf.json', renderProviders(ctx.config)),
    json('backend.tf.json', renderBackend(ctx.backend)),
    json('variables.tf.json', renderVariables()),
    json('outputs.tf.json', renderOutputs()),
    ...(admitsPlanRole(ctx) ? [json(PLAN_READER_ACCESS_FILE, renderPlanReaderAccess())] : []),
    ...lockFile(ctx.config),
  ];
}

/** Terraform's dependency lock file; Plan's `terraform init` reads it from the workspace. */
export const LOCK_FILE_NAME = '.terraform.lock.hcl';

/**
 * The lock file from terraform.providerHashes: one block per provider with hashes, at its pinned version. Terraform
 * then takes a cached package whose checksum is listed (no download) and refuses any other. Rendered as text:
 * the file is HCL, and its shape is fixed (strings checked by the config schema: versions and base64/hex hashes).
 */
export function renderLockFile(config: Pick<GatewayConfig, 'terraform'>): string | null {
  const hashes = config.terraform.providerHashes ?? {};
  const blocks = (Object.keys(PROVIDER_SOURCES) as Array<keyof typeof PROVIDER_SOURCES>)
    .filter((name) => hashes[name]?.length)
    .map((name) => {
      const version = config.terraform.providerVersions[name];
      return [
        `provider "registry.terraform.io/${PROVIDER_SOURCES[name]}" {`,
        `  version     = "${version}"`,
        `  constraints = "${version}"`,
        '  hashes = [',
        ...[...new Set(hashes[name])].sort().map((h) => `    "${h}",`),
        '  ]',
        '}',
      ].join('\n');
    });
  if (blocks.length === 0) return null;
  return ['# Rendered by the deployer from terraform.providerHashes of the gateway config.', '', blocks.join('\n\n'), ''].join('\n');
}

function lockFile(config: GatewayConfig): WorkspaceFile[] {
  const content = renderLockFile(config);
  return content === null ? [] : [{ name: LOCK_FILE_NAME, content }];
}

/**
 * The Kubernetes group of the Plan role. Plan runs the bundle's code before any approval, so it gets read access
 * only: get, list and watch on every resource (the refresh of the module's helm, kubectl and kubernetes resources
 * reads whatever kinds they manage; the helm provider reads its release from Secrets in the release namespace).
 */
export const PLAN_READERS_GROUP = 'gateway-deployer:plan-readers';
export const PLAN_READER_ACCESS_FILE = 'deployer-plan-reader.tf.json';

const admitsPlanRole = (ctx: WorkspaceContext): boolean =>
  ctx.customGatewayTf === undefined && ctx.config.addDeployerRoleToAwsAuth && Boolean(ctx.deployerRoleArn && ctx.planRoleArn);

/** The ClusterRole and ClusterRoleBinding of PLAN_READERS_GROUP, applied (after an approval) with the module. */
export function renderPlanReaderAccess(): object {
  const rbac = 'rbac.authorization.k8s.io';
  const name = 'gateway-deployer-plan-reader';
  const role = { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] }] };
  const binding = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name },
    subjects: [{ kind: 'Group', apiGroup: rbac, name: PLAN_READERS_GROUP }],
  };
  return {
    resource: {
      kubectl_manifest: {
        deployer_plan_reader_role: { yaml_body: literal(stringify(role)), depends_on: ['module.gateway'] },
        deployer_plan_reader_binding: { yaml_body: literal(stringify(binding)), depends_on: ['kubectl_manifest.deployer_plan_reader_role'] },
      },
    },
  };
}

/** The module outputs the HOWTO names, as root outputs: `terraform output` after the apply reads only those. */
export const ROOT_OUTPUTS = ['cluster_name', 'endpoint', 'certificate_authority_data', 'dal_role_arn'] as const;

export function renderOutputs(): object {
  return { output: Object.fromEntries(ROOT_OUTPUTS.map((name) => [name, { value: `\${module.gateway.${name}}` }])) };
}

export function renderGatewayModule(ctx: WorkspaceContext): object {
  const m = ctx.config.module;
  const awsAuthRoles = [...m.aws_auth_roles];
  if (ctx.config.addDeployerRoleToAwsAuth && ctx.deployerRoleArn && !awsAuthRoles.some((r) => r.rolearn === ctx.deployerRoleArn)) {
    awsAuthRoles.push({ rolearn: ctx.deployerRoleArn, username: 'gateway-deployer', groups: ['system:masters'] });
  }
  if (admitsPlanRole(ctx) && !awsAuthRoles.some((r) => r.rolearn === ctx.planRoleArn)) {
    awsAuthRoles.push({ rolearn: ctx.planRoleArn!, username: 'gateway-deployer-plan', groups: [PLAN_READERS_GROUP] });
  }
  // Only inputs the operator set are passed: an older module may not declare the newer variables.
  const inputs: Record<string, unknown> = {
    source: `./${MODULE_DIR}`,
    name: literal(ctx.config.gatewayName),
    ...(m.enable_nvidia_gpu !== undefined ? { enable_nvidia_gpu: m.enable_nvidia_gpu } : {}),
    helm_repository_username: '${var.helm_repository_username}',
    helm_repository_password: '${var.helm_repository_password}',
    ...(m.helm_chart_version !== undefined ? { helm_chart_version: literal(m.helm_chart_version) } : {}),
    helm_chart_values: [`\${sensitive(file("\${path.root}/${VALUES_FILE}"))}`, ...generatedHelmValues(ctx.config).map(literal)],
    aws_auth_roles: literal(awsAuthRoles),
    aws_auth_users: literal(m.aws_auth_users),
    ...(m.additional_data_buckets.length > 0 ? { additional_data_buckets: literal(m.additional_data_buckets) } : {}),
    ...(m.karpenter_node_pools !== undefined ? { karpenter_node_pools: literal(m.karpenter_node_pools) } : {}),
    ...(m.create_vpc !== undefined ? { create_vpc: m.create_vpc } : {}),
    ...(m.vpc_id !== undefined ? { vpc_id: literal(m.vpc_id) } : {}),
    ...(m.node_subnet_ids !== undefined ? { node_subnet_ids: literal(m.node_subnet_ids) } : {}),
    ...(literal(m.extra_inputs) as Record<string, unknown>),
  };
  return { module: { gateway: inputs } };
}

/**
 * The Helm values the HOWTO asks operators to add by hand, as YAML documents after the secret's values.yaml:
 * the DAL's S3 sources for additional_data_buckets, the GPU node pool mapping, then the operator's extras.
 */
export function generatedHelmValues(config: GatewayConfig): string[] {
  const docs: object[] = [];
  const buckets = config.module.additional_data_buckets;
  if (buckets.length > 0) docs.push({ dal: { sources: { s3: buckets } } });
  const mapping = config.helmValues.nodePoolMapping;
  if (mapping && Object.keys(mapping).length > 0) docs.push({ job: { nodePoolMapping: mapping } });
  docs.push(...config.helmValues.extra);
  return docs.map((doc) => stringify(doc));
}

export function renderProviders(config: GatewayConfig): object {
  // Not the HOWTO's data.aws_eks_cluster_auth: a data source is read at Plan and its token saved in the plan, and EKS
  // refuses tokens older than 15 minutes, so every apply approved later would fail Unauthorized. An ephemeral
  // resource is never saved: Terraform opens it again during Apply, so the token is minted when it is used.
  const cluster = {
    host: '${module.gateway.endpoint}',
    cluster_ca_certificate: '${module.gateway.certificate_authority_data}',
    token: '${ephemeral.aws_eks_cluster_auth.default.token}',
  };
  const versions = config.terraform.providerVersions;
  return {
    terraform: {
      required_providers: Object.fromEntries(Object.entries(PROVIDER_SOURCES).map(([name, source]) => [name, { source, version: versions[name as keyof typeof PROVIDER_SOURCES] }])),
      required_version: REQUIRED_TERRAFORM,
    },
    provider: {
      // allowed_account_ids: Terraform itself refuses to touch any other account, whatever credentials it has.
      aws: { region: config.target.region, allowed_account_ids: [config.target.account] },
      helm: { kubernetes: cluster },
      kubectl: { ...cluster, load_config_file: false },
      kubernetes: cluster,
    },
    ephemeral: { aws_eks_cluster_auth: { default: { name: '${module.gateway.cluster_name}' } } },
  };
}

export function renderBackend(backend: BackendSettings): object {
  return {
    terraform: {
      backend: {
        s3: {
          bucket: literal(backend.bucket),
          key: literal(backend.key),
          region: backend.region,
          encrypt: true,
          use_lockfile: backend.useLockfile,
          ...(backend.dynamodbTable ? { dynamodb_table: literal(backend.dynamodbTable) } : {}),
          ...(backend.kmsKeyId ? { kms_key_id: literal(backend.kmsKeyId) } : {}),
        },
      },
    },
  };
}

export function renderVariables(): object {
  const variable: Record<string, object> = {};
  for (const [name, key] of Object.entries(HELM_CREDENTIAL_VARIABLES)) {
    variable[name] = { type: 'string', sensitive: true, description: `${key} from the values secret (TF_VAR_${name})` };
  }
  return { variable };
}

/** Escapes Terraform template sequences in every string of a literal value, keys included. */
export function literal<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{') as T;
  if (Array.isArray(value)) return value.map(literal) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [literal(k), literal(v)])) as T;
  }
  return value;
}

function json(name: string, body: object): WorkspaceFile {
  return { name, content: `${JSON.stringify(body, null, 2)}\n` };
}
