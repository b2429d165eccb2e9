import { ArnFormat, AssetHashType, DockerImage, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { acknowledge, nagAction, nagPolicy, nagResource } from '../nag';
import { buildStepSource } from '../step-source';
import { APPLY_BUILD_MINUTES, PLAN_BUILD_MINUTES, QUEUED_BUILD_MINUTES, clusterBuildMinutes } from '../../lambdas/shared/domain/run-budget';

export interface TerraformRunnerProps {
  readonly artifactsBucket: s3.IBucket;
  readonly stateBucket: s3.IBucket;
  readonly key: kms.IKey;
  /** The deployments table: every build first checks that its execution still holds the gateway's lock. */
  readonly lockTable: dynamodb.ITable;
  readonly valuesSecret: secretsmanager.ISecret;
  /** The values secret's own KMS key, when it has one. */
  readonly valuesSecretKey?: kms.IKey;
  /** The Terraform CLI version the builds install and check. */
  readonly terraformVersion: string;
  /** Limits the builds apply again when they unzip the bundle. */
  readonly bundleLimits: { readonly maxEntries: number; readonly maxUncompressedBytes: number };
  /** valuesSecretKeys: values.yaml paths the builds redact besides the built-in credentials. */
  readonly valuesSecretKeys: readonly string[];
  /** additional_data_buckets: the Apply report carries the HOWTO's bucket policy for each. */
  readonly dataBuckets: readonly string[];
  /** Managed policies for what the gateway module builds (EKS, VPC, IAM, ...): the Apply and Verify role. */
  readonly managedPolicyArns: readonly string[];
  /** Managed policies of the Plan role, which runs before any approval: read-only ones. */
  readonly planManagedPolicyArns: readonly string[];
  /** A Terraform backend outside the stack (backend.bucket, backend.dynamodbTable): Plan takes its lock there. */
  readonly externalBackend?: { readonly bucket?: string; readonly dynamodbTable?: string; readonly region: string };
  /** Pinned kubectl and helm, and the Verify timeouts. */
  readonly verify: {
    readonly kubectlVersion: string;
    readonly helmVersion: string;
    readonly kubectlSha256?: string;
    readonly helmSha256?: string;
    readonly rolloutTimeoutMinutes: number;
    readonly helmTestTimeoutMinutes: number;
  };
  /** @default no permissions boundary */
  readonly permissionsBoundaryArn?: string;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Where Terraform and the checks run: three CodeBuild projects (Plan, Apply, Verify) sharing one source, the
 * bundled step helpers, and two roles. Plan (with drift checks and list-vpc) runs the bundle's code before any
 * approval, so it runs under the Plan role: read-only in the account (terraform.planManagedPolicyArns) and in the
 * cluster (PLAN_READERS_GROUP), writing only the state lock, plans/ and reports/. Apply and Verify, which run only
 * after an approval, run under the Terraform role, which aws-auth admits as system:masters.
 */
export class TerraformRunner extends Construct {
  /** Apply and Verify: writes what the module builds. */
  readonly role: iam.Role;
  /** Plan, drift checks, list-vpc: reads, and writes only the state lock, plans/ and reports/. */
  readonly planRole: iam.Role;
  readonly planProject: codebuild.Project;
  readonly applyProject: codebuild.Project;
  readonly verifyProject: codebuild.Project;
  readonly logGroup: logs.LogGroup;
  readonly source: s3assets.Asset;

  constructor(scope: Construct, id: string, props: TerraformRunnerProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
      description: 'Runs Terraform for the Compute Gateway; admitted to the cluster through aws_auth_roles',
      managedPolicies: props.managedPolicyArns.map((arn, i) => iam.ManagedPolicy.fromManagedPolicyArn(this, `Policy${i}`, arn)),
      ...(props.permissionsBoundaryArn
        ? { permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(this, 'Boundary', props.permissionsBoundaryArn) }
        : {}),
    });
    this.planRole = new iam.Role(this, 'PlanRole', {
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
      description: 'Runs terraform plan (before any approval): reads the account and the cluster, writes only the state lock and plans',
      managedPolicies: props.planManagedPolicyArns.map((arn, i) => iam.ManagedPolicy.fromManagedPolicyArn(this, `PlanPolicy${i}`, arn)),
      ...(props.permissionsBoundaryArn
        ? { permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(this, 'PlanBoundary', props.permissionsBoundaryArn) }
        : {}),
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.source = new s3assets.Asset(this, 'StepSource', {
      path: path.join(__dirname, '..', '..', 'buildspecs'),
      // The helper also bundles lambdas/shared: hash what was built, not the folder.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never pulled: local esbuild always succeeds (this machine kind has no Docker engine).
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
        local: {
          tryBundle(outputDir: string): boolean {
            buildStepSource(outputDir);
            return true;
          },
        },
      },
    });

    const project = (name: 'Plan' | 'Apply' | 'Verify', buildspec: string, description: string, extraEnv: Record<string, string> = {}) => {
      const built = new codebuild.Project(this, name, {
        description,
        role: name === 'Plan' ? this.planRole : this.role,
        encryptionKey: props.key,
        source: codebuild.Source.s3({ bucket: this.source.bucket, path: this.source.s3ObjectKey }),
        buildSpec: codebuild.BuildSpec.fromObject(loadBuildspec(buildspec)),
        environment: {
          buildImage: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_4_0,
          computeType: codebuild.ComputeType.SMALL,
          environmentVariables: {
            TF_VERSION: { value: props.terraformVersion },
            ARTIFACTS_BUCKET: { value: props.artifactsBucket.bucketName },
            // detach-vpc keeps its backup of the Terraform state here, the one bucket meant to hold state.
            STATE_BUCKET: { value: props.stateBucket.bucketName },
            BUNDLE_MAX_ENTRIES: { value: String(props.bundleLimits.maxEntries) },
            BUNDLE_MAX_UNCOMPRESSED_BYTES: { value: String(props.bundleLimits.maxUncompressedBytes) },
            DATA_BUCKETS: { value: props.dataBuckets.join(',') },
            VALUES_SECRET_KEYS: { value: props.valuesSecretKeys.join(',') },
            // With EXECUTION_ARN (the state machine's override): a build acts only while its run holds the lock.
            DEPLOYMENTS_TABLE: { value: props.lockTable.tableName },
            ...Object.fromEntries(Object.entries(extraEnv).map(([k, value]) => [k, { value }])),
          },
        },
        timeout: Duration.minutes(name === 'Apply' ? APPLY_BUILD_MINUTES : name === 'Plan' ? PLAN_BUILD_MINUTES : clusterBuildMinutes(props.verify)),
        // The state machine's timeout counts this wait for every build of the longest path (domain/run-budget.ts).
        queuedTimeout: Duration.minutes(QUEUED_BUILD_MINUTES),
        logging: { cloudWatch: { logGroup: this.logGroup, prefix: name.toLowerCase() } },
        // The buildspecs publish no test or coverage reports: no codebuild:CreateReport* on <project>-* report groups.
        grantReportGroupPermissions: false,
      });
      // Provider plugins are the slow part of `terraform init`; the S3 cache carries them between builds. Plan and
      // Apply share one cache, so Apply installs nothing Plan already installed in the same run. Safe although the
      // Plan role (read-only in AWS) writes what Apply runs: Apply installs against the checksums in the approved
      // plan's lock file, and Terraform skips a cache entry whose checksum is not there (test/integration/provider-lock).
      // Set here rather than with Cache.bucket(), which grants the role read/write on the whole artifacts bucket
      // (releases/ and workspaces/ included): the role gets its cache prefix only (below).
      (built.node.defaultChild as codebuild.CfnProject).cache = {
        type: 'S3',
        location: `${props.artifactsBucket.bucketName}/${CACHE_PREFIX}${name === 'Verify' ? 'verify' : 'terraform'}`,
      };
      return built;
    };
    this.planProject = project('Plan', 'plan.yml', 'terraform init + plan of a rendered gateway workspace; stores the plan and a redacted copy');
    this.applyProject = project('Apply', 'apply.yml', 'terraform apply of exactly the saved, approved plan');
    this.verifyProject = project('Verify', 'verify.yml', 'agent version, rollout, helm connectivity tests and capacity report', {
      KUBECTL_VERSION: props.verify.kubectlVersion,
      HELM_VERSION: props.verify.helmVersion,
      // The config's digests, or the ones committed for the default versions (domain/kube-tools.ts).
      KUBECTL_SHA256: props.verify.kubectlSha256 ?? '',
      HELM_SHA256: props.verify.helmSha256 ?? '',
      ROLLOUT_TIMEOUT_SECONDS: String(props.verify.rolloutTimeoutMinutes * 60),
      HELM_TEST_TIMEOUT: `${props.verify.helmTestTimeoutMinutes}m`,
    });

    // No source.grantRead: that is the whole CDK assets bucket. The S3 source binding already grants this object.
    for (const role of [this.role, this.planRole]) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:GetObjectVersion'],
          resources: ['releases/*', 'workspaces/*', 'plans/*', 'reports/*'].map((p) => props.artifactsBucket.arnForObjects(p)),
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation', 's3:GetBucketAcl'], resources: [props.artifactsBucket.bucketArn] }),
      );
      // The build cache of the projects (codebuild-cache/terraform for Plan and Apply, /verify), read and written by CodeBuild.
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'],
          resources: [props.artifactsBucket.arnForObjects(`${CACHE_PREFIX}*`)],
        }),
      );
      props.key.grantEncryptDecrypt(role);
      // The lock item only is read (buildspecs/helper/run-lock.ts); the table is encrypted with props.key (above).
      props.lockTable.grant(role, 'dynamodb:GetItem');
      props.valuesSecret.grantRead(role);
      props.valuesSecretKey?.grantDecrypt(role);
    }
    props.stateBucket.grantReadWrite(this.role);
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.artifactsBucket.arnForObjects('reports/*')] }));
    // Plan: the state is read, never written (a plan does not persist its refresh); the lock object is.
    props.stateBucket.grantRead(this.planRole);
    this.planRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [props.stateBucket.arnForObjects(`*${LOCK_SUFFIX}`)] }),
    );
    this.planRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: ['plans/*', 'reports/*'].map((p) => props.artifactsBucket.arnForObjects(p)) }));
    const external = props.externalBackend;
    if (external?.bucket) {
      this.planRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [`arn:${Stack.of(this).partition}:s3:::${external.bucket}/*${LOCK_SUFFIX}`] }));
    }
    if (external?.dynamodbTable) {
      this.planRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
          resources: [Stack.of(this).formatArn({ service: 'dynamodb', region: external.region, resource: 'table', resourceName: external.dynamodbTable })],
        }),
      );
    }
    this.acknowledgeNagFindings(props);
  }

  /** cdk-nag: why this role holds broad rights, finding by finding (see lib/nag.ts and the README's Security section). */
  private acknowledgeNagFindings(props: TerraformRunnerProps): void {
    const boundary = props.permissionsBoundaryArn
      ? `Its permissions boundary ${props.permissionsBoundaryArn} caps what the role can do.`
      : 'No permissions boundary is configured (terraform.permissionsBoundaryArn); set one to cap the role.';
    const awsManaged = props.managedPolicyArns.filter((arn) => arn.includes(':iam::aws:'));
    if (awsManaged.length > 0) {
      acknowledge(
        this.role,
        'AwsSolutions-IAM4',
        'terraform.managedPolicyArns (default AdministratorAccess) is what the Terraform run may do: the vendor gateway ' +
          'module creates and changes an EKS cluster, node groups and Karpenter, a VPC (subnets, NAT, route tables, ' +
          'security groups), IAM roles and policies (node, IRSA and DAL roles) and KMS keys, and that set changes with ' +
          'module versions, so no narrower AWS managed policy covers it. Applies need an approved plan (README, Security: ' +
          "the bundle's code also runs in Plan, hence its vendor sha256). Operators can substitute their own policies. " +
          boundary,
        awsManaged.map((arn) => nagPolicy(this, arn)),
      );
    }
    const planManaged = props.planManagedPolicyArns.filter((arn) => arn.includes(':iam::aws:'));
    if (planManaged.length > 0) {
      acknowledge(
        this.planRole,
        'AwsSolutions-IAM4',
        'terraform.planManagedPolicyArns (default ReadOnlyAccess) is what Plan may read: Terraform refreshes every ' +
          'resource the vendor module manages (EKS, EC2/VPC, IAM, KMS, ...) and that set changes with module versions. ' +
          'Plan runs the bundle\'s code before any approval, so this role writes nothing in the account but the state ' +
          'lock, plans/ and reports/. ' +
          boundary,
        planManaged.map((arn) => nagPolicy(this, arn)),
      );
    }
    const artifacts = (suffix: string) => nagResource(this, props.artifactsBucket.arnForObjects(suffix));
    const cdkBindings = ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'];
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      "Granted by CDK's own bindings on this stack's bucket and key, not by a hand-written wildcard: the S3 source " +
        '(read of the source object), the project encryption key (grantEncryptDecrypt) and the Terraform ' +
        "backend's state bucket (read/write: state, lockfile, detach-vpc backups). " +
        'With the default AdministratorAccess (terraform.managedPolicyArns) these add nothing; with narrower policies ' +
        'the permissions boundary caps them too. ' +
        boundary,
      [...[...cdkBindings, 's3:Abort*', 's3:DeleteObject*'].map(nagAction), nagResource(this, props.stateBucket.arnForObjects('*'))],
    );
    acknowledge(
      this.planRole,
      'AwsSolutions-IAM5',
      "Granted by CDK's own bindings on this stack's bucket and key: the S3 source (read of the source object), the " +
        "project encryption key (grantEncryptDecrypt) and a read of the Terraform backend's state bucket (grantRead). " +
        'Its only writes there are the lock objects <state key>.tflock that use_lockfile creates and deletes.',
      [...cdkBindings.map(nagAction), nagResource(this, props.stateBucket.arnForObjects('*')), nagResource(this, props.stateBucket.arnForObjects(`*${LOCK_SUFFIX}`))],
    );
    const prefixes = (role: iam.Role, writes: string) =>
      acknowledge(
        role,
        'AwsSolutions-IAM5',
        'Object prefixes of the artifacts bucket whose keys carry the gateway and the run (releases/<bundle>, ' +
          'workspaces/<gateway>/<run>/, plans/<gateway>/<run>/, reports/<gateway>/<run>/), unknown at deploy time: the ' +
          `role reads releases/, workspaces/, plans/ and reports/, writes ${writes}, and reads and writes the projects' ` +
          'build cache under codebuild-cache/ (objects CodeBuild names itself); nothing else of the artifacts bucket.',
        ['releases/*', 'workspaces/*', 'plans/*', 'reports/*', `${CACHE_PREFIX}*`].map(artifacts),
      );
    prefixes(this.role, 'reports/');
    prefixes(this.planRole, 'plans/ and reports/');
    const logGroups = (role: iam.Role, projects: codebuild.Project[]) =>
      acknowledge(
        role,
        'AwsSolutions-IAM5',
        "CodeBuild's default log group of this role's projects (/aws/codebuild/<project>:*, log streams are named per " +
          "build), which the CDK Project always grants; the builds log to the stack's own log group.",
        projects.map((project) =>
          nagResource(
            this,
            `${Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', arnFormat: ArnFormat.COLON_RESOURCE_NAME, resourceName: `/aws/codebuild/${project.projectName}` })}:*`,
          ),
        ),
      );
    logGroups(this.role, [this.applyProject, this.verifyProject]);
    logGroups(this.planRole, [this.planProject]);
  }
}

/** The S3 backend's lock object next to the state (use_lockfile). */
const LOCK_SUFFIX = '.tflock';

/** Where the projects' S3 build caches live in the artifacts bucket, one folder per project. */
const CACHE_PREFIX = 'codebuild-cache/';

/** Buildspecs live as YAML files in buildspecs/ so they read like the HOWTO's shell steps. */
export function loadBuildspec(file: string): Record<string, unknown> {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'buildspecs', file), 'utf-8');
  return parseYaml(text) as Record<string, unknown>;
}
