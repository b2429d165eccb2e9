import * as z from 'zod';
import { ConfigError } from './errors';
import { formatIssues } from './issues';
import { lintNodePools } from './node-pools';
import { DEFAULT_MIN_FREE_SUBNET_ADDRESSES } from './subnets';
import compareVersions from 'semver/functions/compare';
import validVersion from 'semver/functions/valid';

/**
 * The operator's gateway configuration: everything the seed HOWTO asks them to write by hand in gateway.tf,
 * providers.tf and terraform_backend.tf, plus the deployer's own settings.
 *
 * The `module` section uses the Terraform module's own variable names (snake_case) on purpose: operators read
 * the "Inputs" section of the module's README.md and should be able to copy names from it unchanged.
 */

const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';

const awsAccountId = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id');
const awsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'must be an AWS region such as eu-central-1');
const semverString = z
  .string()
  .regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/, 'must be a version such as 0.16.20');
const s3BucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)');
const k8sGroups = z.array(z.string().min(1)).default(['system:masters']);

const awsAuthRole = z.strictObject({
  rolearn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
  username: z.string().min(1),
  groups: k8sGroups,
});

const awsAuthUser = z.strictObject({
  userarn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:user\/.+$/, 'must be an IAM user ARN'),
  username: z.string().min(1),
  groups: k8sGroups,
});

const taint = z.strictObject({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

/** The seed's karpenter_node_pools entry; unknown keys pass through to the module, which owns its schema. */
const nodePool = z.looseObject({
  instance_families: z.array(z.string().min(1)).min(1, 'must name at least one instance family'),
  capacity_type: z.array(z.enum(['on-demand', 'spot'])).optional(),
  taints: z.array(taint).optional(),
});

/** Module inputs the deployer renders itself; `extra_inputs` must not set them a second time. */
export const RENDERED_MODULE_INPUTS = [
  'source',
  'name',
  'enable_nvidia_gpu',
  'helm_repository_username',
  'helm_repository_password',
  'helm_chart_version',
  'helm_chart_values',
  'aws_auth_roles',
  'aws_auth_users',
  'additional_data_buckets',
  'karpenter_node_pools',
  'create_vpc',
  'vpc_id',
  'node_subnet_ids',
  // Terraform meta-arguments of a module block: `count = 0` would plan the destruction of the whole gateway.
  'count',
  'for_each',
  'depends_on',
  'providers',
  'version',
] as const;

const moduleInputs = z
  .strictObject({
    enable_nvidia_gpu: z.boolean().optional(),
    helm_chart_version: semverString.optional(),
    aws_auth_roles: z.array(awsAuthRole).default([]),
    aws_auth_users: z.array(awsAuthUser).default([]),
    additional_data_buckets: z.array(s3BucketName).default([]),
    karpenter_node_pools: z.record(z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'node pool names are DNS labels'), nodePool).optional(),
    create_vpc: z.boolean().optional(),
    vpc_id: z.string().regex(/^vpc-[0-9a-f]+$/, 'must be a VPC id such as vpc-045da9dc92fb2a887').optional(),
    node_subnet_ids: z.array(z.string().regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')).optional(),
    /** Any other input of the module (see its README "Inputs"), passed through as given. */
    extra_inputs: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a Terraform variable name'), z.unknown()).default({}),
  })
  .superRefine((m, ctx) => {
    if (m.create_vpc === false && (!m.vpc_id || !m.node_subnet_ids || m.node_subnet_ids.length === 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['create_vpc'],
        message: 'create_vpc = false needs vpc_id and node_subnet_ids (seed FAQ "Can I manage the AWS VPC setup?")',
      });
    }
    if (m.create_vpc !== false && (m.vpc_id || m.node_subnet_ids)) {
      ctx.addIssue({ code: 'custom', path: ['vpc_id'], message: 'vpc_id and node_subnet_ids are only used with create_vpc = false' });
    }
    for (const key of Object.keys(m.extra_inputs)) {
      if ((RENDERED_MODULE_INPUTS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path: ['extra_inputs', key], message: `"${key}" is rendered by the deployer; set it in its own field` });
      }
    }
  });

const helmValues = z.strictObject({
  /** Rendered as `job.nodePoolMapping`: number of requested GPUs → taint key that those computations tolerate. */
  nodePoolMapping: z.record(z.string().regex(/^[1-9]\d*$/, 'keys are GPU counts such as "4"'), z.string().min(1)).optional(),
  /** Further Helm values documents, appended after the generated ones. Never put secrets here: they live in the values secret. */
  extra: z.array(z.record(z.string(), z.unknown())).default([]),
});

const emailList = z.array(z.email('must be an e-mail address'));

export const gatewayConfigSchema = z.strictObject({
  /** The module's `name` input and the key of everything the deployer keeps per gateway. */
  gatewayName: z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'must be 2-32 lowercase letters, digits or hyphens, starting with a letter'),
  /** Where the gateway is deployed: the stack is pinned to this account and region, and so is Terraform's AWS provider. */
  target: z.strictObject({ account: awsAccountId, region: awsRegion }),
  /** The Secrets Manager secret that holds the values.yaml from the Bitwarden Send link, as its SecretString. */
  valuesSecretName: z.string().regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a Secrets Manager secret name'),
  /** The customer-managed KMS key of the values secret, if it has one; the default aws/secretsmanager key needs none. */
  valuesSecretKmsKeyArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, 'must be a KMS key ARN')
    .optional(),
  module: moduleInputs.default({ aws_auth_roles: [], aws_auth_users: [], additional_data_buckets: [], extra_inputs: {} }),
  /** Add the deployer's own Terraform role to aws_auth_roles (system:masters) so later runs can reach the cluster. */
  addDeployerRoleToAwsAuth: z.boolean().default(true),
  helmValues: helmValues.default({ extra: [] }),
  /** S3 key, in the artifacts bucket, of a customized gateway.tf received from the vendor; replaces the rendered one. */
  customGatewayTfKey: z.string().regex(/^[A-Za-z0-9!_.*'()\/-]+\.tf$/, 'must be an S3 key ending in .tf').optional(),
  terraform: z
    .strictObject({
      version: semverString.default('1.11.4'),
      /**
       * What the Terraform role may do in the account. The gateway module builds a VPC, an EKS cluster, IAM roles
       * and node pools, so the default is AdministratorAccess, as the seed's operator has; narrow it with a
       * permissions boundary or your own policies.
       */
      managedPolicyArns: z
        .array(z.string().regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/.+$/, 'must be an IAM managed policy ARN'))
        .default([ADMINISTRATOR_ACCESS]),
      permissionsBoundaryArn: z.string().regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/.+$/, 'must be an IAM managed policy ARN').optional(),
    })
    .default({ version: '1.11.4', managedPolicyArns: [ADMINISTRATOR_ACCESS] }),
  /** The seed's terraform_backend.tf. Without a bucket, the stack's own state bucket is used. */
  backend: z
    .strictObject({
      bucket: s3BucketName.optional(),
      key: z.string().min(1).optional(),
      region: awsRegion.optional(),
      useLockfile: z.boolean().default(true),
      dynamodbTable: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name').optional(),
    })
    .default({ useLockfile: true }),
  /** The seed's wrap-up mails support; operators get approvals and failures. */
  notifications: z
    .strictObject({
      supportEmails: emailList.default(['support@apheris.com']),
      operatorEmails: emailList.default([]),
    })
    .default({ supportEmails: ['support@apheris.com'], operatorEmails: [] }),
  /** The seed's "Do you want to perform these actions?", as a gate. */
  approval: z
    .strictObject({
      /** How long a plan waits for an operator's decision before the run fails. */
      timeoutHours: z.number().int().min(1).max(168).default(24),
      /** Upgrades started by a bundle landing in S3 skip the question when the plan is low risk and destroys nothing. */
      autoApproveS3Upgrades: z.boolean().default(false),
    })
    .default({ timeoutHours: 24, autoApproveS3Upgrades: false }),
  /** The seed's "Post-install / Post-upgrade" checks. */
  verify: z
    .strictObject({
      /** Pinned tool versions, installed (checksum-verified) in the Verify build unless already there. */
      kubectlVersion: semverString.default('1.32.4'),
      helmVersion: semverString.default('3.17.3'),
      /** How long the agent rollout may take to finish after the apply. */
      rolloutTimeoutMinutes: z.number().int().min(1).max(60).default(10),
      /** `helm test --timeout` for the connectivity tests. */
      helmTestTimeoutMinutes: z.number().int().min(1).max(60).default(10),
    })
    .default({ kubectlVersion: '1.32.4', helmVersion: '3.17.3', rolloutTimeoutMinutes: 10, helmTestTimeoutMinutes: 10 }),
  /**
   * Drift detection: an EventBridge schedule (e.g. "rate(1 day)" or "cron(0 6 * * ? *)") that starts a plan-only
   * run and tells operators when the plan is not empty. Off when absent; it never applies.
   */
  drift: z
    .strictObject({
      schedule: z
        .string()
        .regex(/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/, 'must be an EventBridge schedule such as "rate(1 day)" or "cron(0 6 * * ? *)"'),
    })
    .optional(),
  /** With module.create_vpc = false: what Preflight expects of the operator's subnets (seed FAQ "Can I manage the AWS VPC setup?"). */
  vpcReuse: z
    .strictObject({
      /**
       * Preflight warns when module.node_subnet_ids have fewer free IP addresses together (each pod takes one).
       * Default: one of the reference setup's subnets, 254 (see domain/subnets.ts); 0 turns the warning off.
       */
      minFreeSubnetAddresses: z.number().int().min(0).default(DEFAULT_MIN_FREE_SUBNET_ADDRESSES),
    })
    .default({ minFreeSubnetAddresses: DEFAULT_MIN_FREE_SUBNET_ADDRESSES }),
  /** Limits on the bundle, so a damaged or hostile zip is refused before anything unpacks it. */
  bundle: z
    .strictObject({
      releasesPrefix: z.string().regex(/^([A-Za-z0-9_.-]+\/)+$/, 'must be an S3 prefix ending in "/"').default('releases/'),
      maxBytes: z.number().int().positive().default(50 * 1024 * 1024),
      maxEntries: z.number().int().positive().default(5_000),
      maxUncompressedBytes: z.number().int().positive().default(256 * 1024 * 1024),
    })
    .default({ releasesPrefix: 'releases/', maxBytes: 50 * 1024 * 1024, maxEntries: 5_000, maxUncompressedBytes: 256 * 1024 * 1024 }),
}).superRefine((c, ctx) => {
  if (c.backend.useLockfile && validVersion(c.terraform.version) && compareVersions(c.terraform.version, '1.10.0') < 0) {
    ctx.addIssue({ code: 'custom', path: ['backend', 'useLockfile'], message: `S3 state locking with use_lockfile needs Terraform 1.10 or later, not ${c.terraform.version}; raise terraform.version or set a dynamodbTable with useLockfile false` });
  }
  for (const finding of lintNodePools(c.module.karpenter_node_pools ?? {})) {
    ctx.addIssue({ code: 'custom', path: ['module', 'karpenter_node_pools', finding.pool, 'taints'], message: finding.message });
  }
});

/** What the operator writes (defaults may be left out). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** The configuration with every default filled in. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type NodePool = z.output<typeof nodePool>;

/** Validates a configuration, throwing a ConfigError that names every wrong field. */
export function parseGatewayConfig(raw: unknown, source = 'gateway config'): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`${source} is invalid:\n${formatIssues(result.error.issues)}`);
  }
  return result.data;
}

/** The configuration as the state machine hands it to a task: one JSON string, validated again on arrival. */
export function parseConfigJson(text: unknown): GatewayConfig {
  if (typeof text !== 'string') throw new ConfigError('task payload has no "config" JSON string (the state machine sets it)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError('task payload "config" is not valid JSON');
  }
  return parseGatewayConfig(raw, 'gateway settings');
}
