import './zod-locale';
import * as z from 'zod/mini';
import { ConfigError } from './errors';
import { approverEntryProblem } from './approvers';
import { formatIssues } from './issues';
import { lintNodePools } from './node-pools';
import { DEFAULT_MIN_FREE_SUBNET_ADDRESSES } from './subnets';
import { KNOWN_KUBE_TOOL_SHA256, kubeToolChecksumSource } from './kube-tools';
import compareVersions from 'semver/functions/compare';
import validVersion from 'semver/functions/valid';

/**
 * The operator's gateway configuration: everything the vendor HOWTO asks them to write by hand in gateway.tf,
 * providers.tf and terraform_backend.tf, plus the deployer's own settings.
 *
 * The `module` section uses the Terraform module's own variable names (snake_case) on purpose: operators read
 * the "Inputs" section of the module's README.md and should be able to copy names from it unchanged.
 */

const ADMINISTRATOR_ACCESS = 'arn:aws:iam::aws:policy/AdministratorAccess';
const READ_ONLY_ACCESS = 'arn:aws:iam::aws:policy/ReadOnlyAccess';

/**
 * The providers' pinned versions by default: the newest of the HOWTO's major versions (aws ~> 5.0, helm ~> 2.0,
 * kubectl ~> 1.0, kubernetes ~> 2.0) that the deployer was tried with.
 */
export const DEFAULT_PROVIDER_VERSIONS = { aws: '5.100.0', helm: '2.17.0', kubectl: '1.14.0', kubernetes: '2.36.0' } as const;
/** The first versions that have what the rendered workspace uses: ephemeral resources, ephemeral aws_eks_cluster_auth. */
export const MIN_TERRAFORM_VERSION = '1.10.0';
export const MIN_AWS_PROVIDER_VERSION = '5.83.0';
const exactVersion = z.string().check(z.regex(/^\d+\.\d+\.\d+$/, 'must be an exact provider version such as 5.100.0 (no constraint operators)'));
/** A provider package checksum as a Terraform lock file records it: h1 (the unpacked package) or zh (the zip). */
const providerHash = z.string().check(z.regex(/^(h1:[A-Za-z0-9+/]{43}=|zh:[0-9a-f]{64})$/, 'must be a lock-file hash such as h1:<44 base64 characters> or zh:<64 hex digits>'));
const providerHashList = z.array(providerHash).check(z.minLength(1, 'give at least one hash, or leave the provider out'));

const awsAccountId = z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id'));
const awsRegion = z.string().check(z.regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'must be an AWS region such as eu-central-1'));
const semverString = z
  .string()
  .check(z.regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/, 'must be a version such as 0.16.20'));
const sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be a sha256 in hex (64 lowercase characters), as sha256sum prints it'));
const s3BucketName = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)'));
const nonEmpty = () => z.string().check(z.minLength(1));
/** An approver or uploader: an IAM role or user ARN, or one role session (domain/approvers.ts). */
const principalEntry = z.string().check(
  z.superRefine((entry, ctx) => {
    const problem = approverEntryProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, input: entry });
  }),
);
const k8sGroups = z._default(z.array(nonEmpty()), ['system:masters']);

const awsAuthRole = z.strictObject({
  rolearn: z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')),
  username: nonEmpty(),
  groups: k8sGroups,
});

const awsAuthUser = z.strictObject({
  userarn: z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:user\/.+$/, 'must be an IAM user ARN')),
  username: nonEmpty(),
  groups: k8sGroups,
});

const taint = z.strictObject({
  key: nonEmpty(),
  value: z.optional(z.string()),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

/** The HOWTO's karpenter_node_pools entry; unknown keys pass through to the module, which owns its schema. */
const nodePool = z.looseObject({
  instance_families: z.array(nonEmpty()).check(z.minLength(1, 'must name at least one instance family')),
  capacity_type: z.optional(z.array(z.enum(['on-demand', 'spot']))),
  taints: z.optional(z.array(taint)),
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
    enable_nvidia_gpu: z.optional(z.boolean()),
    helm_chart_version: z.optional(semverString),
    aws_auth_roles: z._default(z.array(awsAuthRole), []),
    aws_auth_users: z._default(z.array(awsAuthUser), []),
    additional_data_buckets: z._default(z.array(s3BucketName), []),
    karpenter_node_pools: z.optional(z.record(z.string().check(z.regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'node pool names are DNS labels')), nodePool)),
    create_vpc: z.optional(z.boolean()),
    vpc_id: z.optional(z.string().check(z.regex(/^vpc-[0-9a-f]+$/, 'must be a VPC id such as vpc-045da9dc92fb2a887'))),
    node_subnet_ids: z.optional(z.array(z.string().check(z.regex(/^subnet-[0-9a-f]+$/, 'must be a subnet id')))),
    /** Any other input of the module (see its README "Inputs"), passed through as given. */
    extra_inputs: z._default(z.record(z.string().check(z.regex(/^[a-z_][a-z0-9_]*$/, 'must be a Terraform variable name')), z.unknown()), {}),
  })
  .check(
    z.superRefine((m, ctx) => {
      if (m.create_vpc === false && (!m.vpc_id || !m.node_subnet_ids || m.node_subnet_ids.length === 0)) {
        ctx.addIssue({
          code: 'custom',
          path: ['create_vpc'],
          message: 'create_vpc = false needs vpc_id and node_subnet_ids (the HOWTO FAQ "Can I manage the AWS VPC setup?")',
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
    }),
  );

const helmValues = z.strictObject({
  /** Rendered as `job.nodePoolMapping`: number of requested GPUs → taint key that those computations tolerate. */
  nodePoolMapping: z.optional(z.record(z.string().check(z.regex(/^[1-9]\d*$/, 'keys are GPU counts such as "4"')), nonEmpty())),
  /** Further Helm values documents, appended after the generated ones. Never put secrets here: they live in the values secret. */
  extra: z._default(z.array(z.record(z.string(), z.unknown())), []),
});

const emailList = z.array(z.email('must be an e-mail address'));
const managedPolicyArn = () => z.string().check(z.regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/.+$/, 'must be an IAM managed policy ARN'));
const wholeNumber = () => z.number().check(z.int());

export const gatewayConfigSchema = z
  .strictObject({
    /** The module's `name` input and the key of everything the deployer keeps per gateway. */
    gatewayName: z.string().check(z.regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'must be 2-32 lowercase letters, digits or hyphens, starting with a letter')),
    /** Where the gateway is deployed: the stack is pinned to this account and region, and so is Terraform's AWS provider. */
    target: z.strictObject({ account: awsAccountId, region: awsRegion }),
    /** The Secrets Manager secret that holds the values.yaml from the Bitwarden Send link, as its SecretString. */
    valuesSecretName: z.string().check(z.regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'must be a Secrets Manager secret name')),
    /** The customer-managed KMS key of the values secret, if it has one; the default aws/secretsmanager key needs none. */
    valuesSecretKmsKeyArn: z.optional(z.string().check(z.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]+$/, 'must be a KMS key ARN'))),
    /**
     * Dotted paths in values.yaml that hold secrets besides the built-in ones (the four credentials, and every key
     * whose name says secret, password, token, key, credential, client id): everything under them is redacted from
     * logs, plans, reports and notices. Identifiers such as tenant and auth.domain are not redacted.
     */
    valuesSecretKeys: z._default(z.array(z.string().check(z.regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a dotted path in values.yaml such as auth.orchestrator.extraKey'))), []),
    module: z._default(moduleInputs, { aws_auth_roles: [], aws_auth_users: [], additional_data_buckets: [], extra_inputs: {} }),
    /** Add the deployer's own Terraform role to aws_auth_roles (system:masters) so later runs can reach the cluster. */
    addDeployerRoleToAwsAuth: z._default(z.boolean(), true),
    helmValues: z._default(helmValues, { extra: [] }),
    /** S3 key, in the artifacts bucket, of a customized gateway.tf received from the vendor; replaces the rendered one. */
    customGatewayTfKey: z.optional(z.string().check(z.regex(/^[A-Za-z0-9!_.*'()\/-]+\.tf$/, 'must be an S3 key ending in .tf'))),
    terraform: z._default(
      z.strictObject({
        version: z._default(semverString, '1.11.4'),
        /**
         * What the Terraform role may do in the account. The gateway module builds a VPC, an EKS cluster, IAM roles
         * and node pools, so the default is AdministratorAccess, as the HOWTO's operator has; narrow it with a
         * permissions boundary or your own policies.
         */
        managedPolicyArns: z._default(z.array(managedPolicyArn()), [ADMINISTRATOR_ACCESS]),
        /**
         * What the Plan role may do: Plan (and drift checks, list-vpc) run the bundle's code before any approval, so
         * they run under a role of their own that reads (Terraform's refresh reads every resource the module
         * manages) and writes only the state lock, plans/ and reports/. Keep these read-only.
         */
        planManagedPolicyArns: z._default(z.array(managedPolicyArn()), [READ_ONLY_ACCESS]),
        permissionsBoundaryArn: z.optional(managedPolicyArn()),
        /**
         * Exact provider versions for the rendered required_providers (one set for Plan and Apply, recorded in the
         * lock file Plan makes). The cluster token minted at Apply needs the AWS provider 5.83 or later.
         */
        providerVersions: z._default(
          z.strictObject({
            aws: z._default(exactVersion, DEFAULT_PROVIDER_VERSIONS.aws),
            helm: z._default(exactVersion, DEFAULT_PROVIDER_VERSIONS.helm),
            kubectl: z._default(exactVersion, DEFAULT_PROVIDER_VERSIONS.kubectl),
            kubernetes: z._default(exactVersion, DEFAULT_PROVIDER_VERSIONS.kubernetes),
          }),
          { ...DEFAULT_PROVIDER_VERSIONS },
        ),
        /**
         * The packages of the pinned versions, by checksum (`terraform providers lock -platform=linux_arm64`, the
         * builds' platform). RenderWorkspace writes them as the workspace's lock file, which only it may write, so
         * Plan takes a provider from the build cache instead of downloading it (zero installs on a warm cache) and
         * refuses any other package. A provider left out is downloaded and checked as before.
         */
        providerHashes: z.optional(
          z.strictObject({ aws: z.optional(providerHashList), helm: z.optional(providerHashList), kubectl: z.optional(providerHashList), kubernetes: z.optional(providerHashList) }),
        ),
      }),
      { version: '1.11.4', managedPolicyArns: [ADMINISTRATOR_ACCESS], planManagedPolicyArns: [READ_ONLY_ACCESS], providerVersions: { ...DEFAULT_PROVIDER_VERSIONS } },
    ),
    /** The HOWTO's terraform_backend.tf. Without a bucket, the stack's own state bucket is used. */
    backend: z._default(
      z.strictObject({
        bucket: z.optional(s3BucketName),
        key: z.optional(nonEmpty()),
        region: z.optional(awsRegion),
        useLockfile: z._default(z.boolean(), true),
        dynamodbTable: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name'))),
      }),
      { useLockfile: true },
    ),
    /** The HOWTO's wrap-up mails support; operators get approvals and failures. */
    notifications: z._default(
      z.strictObject({
        supportEmails: z._default(emailList, ['support@apheris.com']),
        operatorEmails: z._default(emailList, []),
      }),
      { supportEmails: ['support@apheris.com'], operatorEmails: [] },
    ),
    /** The HOWTO's "Do you want to perform these actions?", as a gate. */
    approval: z.strictObject({
      /**
       * Who may approve or reject a plan: IAM role ARNs, user ARNs or role sessions (see domain/approvers.ts). The
       * approval function admits only these, by the identity AWS verified for the request. Required: no default
       * names anyone.
       */
      approvers: z.array(principalEntry).check(z.minLength(1, 'name at least one approver (an IAM role or user ARN)')),
      /** How long a plan waits for an operator's decision before the run fails. */
      timeoutHours: z._default(wholeNumber().check(z.gte(1), z.lte(168)), 24),
      /** Upgrades started by a bundle landing in S3 skip the question when the plan is low risk and destroys nothing. */
      autoApproveS3Upgrades: z._default(z.boolean(), false),
    }),
    /**
     * Who may write bundles under the releases prefix (the bucket policy denies everyone else): a new zip there
     * starts an upgrade by itself. Same forms as approval.approvers; default: the approvers.
     */
    releaseUploaders: z.optional(z.array(principalEntry).check(z.minLength(1, 'name at least one uploader, or leave releaseUploaders out to use the approvers'))),
    /** The HOWTO's "Post-install / Post-upgrade" checks. */
    verify: z._default(
      z.strictObject({
        /** Pinned tool versions, installed (checksum-verified) in the Verify build unless already there. */
        kubectlVersion: z._default(semverString, '1.32.4'),
        helmVersion: z._default(semverString, '3.17.3'),
        /**
         * The sha256 of the linux/arm64 kubectl binary and of helm-v<helmVersion>-linux-arm64.tar.gz (the builds run on
         * CodeBuild's Amazon Linux 2023 aarch64 image), taken from a source you trust: the Verify build refuses a
         * download with another digest. Default: the digest committed in kube-tools.ts for the default versions; any
         * other version needs its digest here (synth names the field).
         */
        kubectlSha256: z.optional(sha256Hex),
        helmSha256: z.optional(sha256Hex),
        /** How long the agent rollout may take to finish after the apply. */
        rolloutTimeoutMinutes: z._default(wholeNumber().check(z.gte(1), z.lte(60)), 10),
        /** `helm test --timeout` for the connectivity tests. */
        helmTestTimeoutMinutes: z._default(wholeNumber().check(z.gte(1), z.lte(60)), 10),
      }).check(
        z.superRefine((v, ctx) => {
          for (const tool of ['kubectl', 'helm'] as const) {
            const version = tool === 'kubectl' ? v.kubectlVersion : v.helmVersion;
            const field = tool === 'kubectl' ? 'kubectlSha256' : 'helmSha256';
            if (v[field] === undefined && KNOWN_KUBE_TOOL_SHA256[tool][version] === undefined) {
              ctx.addIssue({
                code: 'custom',
                path: [field],
                message: `${tool} ${version} has no built-in checksum: give the sha256 of its linux/arm64 download (published at ${kubeToolChecksumSource[tool](version)}; compare it with a copy you trust)`,
              });
            }
          }
        }),
      ),
      { kubectlVersion: '1.32.4', helmVersion: '3.17.3', rolloutTimeoutMinutes: 10, helmTestTimeoutMinutes: 10 },
    ),
    /**
     * Drift detection: an EventBridge schedule (e.g. "rate(1 day)" or "cron(0 6 * * ? *)") that starts a plan-only
     * run and tells operators when the plan is not empty. Off when absent; it never applies.
     */
    drift: z.optional(
      z.strictObject({
        schedule: z
          .string()
          .check(z.regex(/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/, 'must be an EventBridge schedule such as "rate(1 day)" or "cron(0 6 * * ? *)"')),
      }),
    ),
    /** With module.create_vpc = false: what Preflight expects of the operator's subnets (HOWTO's FAQ "Can I manage the AWS VPC setup?"). */
    vpcReuse: z._default(
      z.strictObject({
        /**
         * Preflight warns when module.node_subnet_ids have fewer free IP addresses together (each pod takes one).
         * Default: one of the reference setup's subnets, 254 (see domain/subnets.ts); 0 turns the warning off.
         */
        minFreeSubnetAddresses: z._default(wholeNumber().check(z.gte(0)), DEFAULT_MIN_FREE_SUBNET_ADDRESSES),
      }),
      { minFreeSubnetAddresses: DEFAULT_MIN_FREE_SUBNET_ADDRESSES },
    ),
    /** What an upload under the releases prefix may start by itself (domain/release-trigger.ts). */
    releaseTrigger: z._default(
      z.strictObject({
        /** gateway-2.1.0-rc.1.zip starts nothing unless this is true: the vendor's pre-releases are for testing. */
        allowPrereleases: z._default(z.boolean(), false),
        /**
         * An upload more than this many major versions above the deployed one waits for an operator: a mistaken
         * gateway-999.0.0.zip, once deployed, would block every real release as a downgrade. Default 1: the next major.
         */
        maxMajorStep: z._default(wholeNumber().check(z.gte(0)), 1),
      }),
      { allowPrereleases: false, maxMajorStep: 1 },
    ),
    /** Limits on the bundle, so a damaged or hostile zip is refused before anything unpacks it. */
    bundle: z._default(
      z.strictObject({
        releasesPrefix: z._default(z.string().check(z.regex(/^([A-Za-z0-9_.-]+\/)+$/, 'must be an S3 prefix ending in "/"')), 'releases/'),
        maxBytes: z._default(wholeNumber().check(z.positive()), 50 * 1024 * 1024),
        maxEntries: z._default(wholeNumber().check(z.positive()), 5_000),
        maxUncompressedBytes: z._default(wholeNumber().check(z.positive()), 256 * 1024 * 1024),
      }),
      { releasesPrefix: 'releases/', maxBytes: 50 * 1024 * 1024, maxEntries: 5_000, maxUncompressedBytes: 256 * 1024 * 1024 },
    ),
  })
  .check(
    z.superRefine((c, ctx) => {
      if (validVersion(c.terraform.version) && compareVersions(c.terraform.version, MIN_TERRAFORM_VERSION) < 0) {
        ctx.addIssue({ code: 'custom', path: ['terraform', 'version'], message: `must be ${MIN_TERRAFORM_VERSION} or later: the cluster token is minted at Apply by an ephemeral resource (Terraform 1.10), not ${c.terraform.version}` });
      }
      if (compareVersions(c.terraform.providerVersions.aws, MIN_AWS_PROVIDER_VERSION) < 0) {
        ctx.addIssue({ code: 'custom', path: ['terraform', 'providerVersions', 'aws'], message: `must be ${MIN_AWS_PROVIDER_VERSION} or later: ephemeral aws_eks_cluster_auth (the cluster token minted at Apply) came with it, not ${c.terraform.providerVersions.aws}` });
      }
      for (const finding of lintNodePools(c.module.karpenter_node_pools ?? {})) {
        ctx.addIssue({ code: 'custom', path: ['module', 'karpenter_node_pools', finding.pool, 'taints'], message: finding.message });
      }
    }),
  );

/** What the operator writes (defaults may be left out). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** The configuration with every default filled in. */
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type NodePool = z.output<typeof nodePool>;

/** Validates a configuration, throwing a ConfigError that names every wrong field. */
export function parseGatewayConfig(raw: unknown, source = 'gateway config'): GatewayConfig {
  const result = gatewayConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`${source} is invalid:\n${formatIssues(result.error.issues, (path) => knownFields(gatewayConfigSchema, path))}`);
  }
  const config = result.data;
  // The digests of the versions the deployer knows, unless the config pins its own: every download is checked
  // against a digest committed here or in the config. Filling them in keeps a second parse the identity.
  const verify = {
    ...config.verify,
    kubectlSha256: config.verify.kubectlSha256 ?? KNOWN_KUBE_TOOL_SHA256.kubectl[config.verify.kubectlVersion],
    helmSha256: config.verify.helmSha256 ?? KNOWN_KUBE_TOOL_SHA256.helm[config.verify.helmVersion],
  };
  return { ...config, verify };
}

/** The field names the schema allows at `path` (through defaults, optionals and arrays), for "did you mean". */
function knownFields(schema: unknown, path: readonly PropertyKey[]): string[] {
  let node = schema as { _zod?: { def: Record<string, any> } } | undefined;
  const unwrap = () => {
    while (node?._zod && ['default', 'optional', 'pipe', 'nullable'].includes(node._zod.def.type)) node = node._zod.def.innerType ?? node._zod.def.in;
  };
  unwrap();
  for (const part of path) {
    if (!node?._zod) return [];
    if (node._zod.def.type === 'array') node = node._zod.def.element;
    else if (node._zod.def.type === 'object') node = node._zod.def.shape?.[String(part)];
    else return [];
    unwrap();
  }
  return node?._zod?.def.type === 'object' ? Object.keys(node._zod.def.shape ?? {}) : [];
}

/**
 * The configuration as the state machine hands it to a task: one JSON string, validated again on arrival.
 *
 * Why the Lambdas run the whole schema again rather than trusting what synth validated: the JSON is the parsed
 * config (defaults filled in), and parsing it again is the identity, so a config that passed synth parses the same
 * way here, by the same code; a light structural check instead would be a second, hand-written validator that can
 * drift from this one, and a state machine input edited by hand would get through it. What this costs the bundle
 * was the size of `zod`'s chainable API (about 100 KB minified, none of it tree-shakable); the schemas are
 * therefore written with `zod/mini`, the same engine, checks and English messages (./zod-locale) with a functional
 * API esbuild trims to what they use (about 30 KB).
 */
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
