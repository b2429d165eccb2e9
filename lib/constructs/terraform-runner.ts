import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface TerraformRunnerProps {
  readonly artifactsBucket: s3.IBucket;
  readonly stateBucket: s3.IBucket;
  readonly key: kms.IKey;
  /** The Terraform CLI version the builds install and check. */
  readonly terraformVersion: string;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Where Terraform runs: CodeBuild, with a role of its own. That role is the identity the gateway module's
 * aws-auth ConfigMap admits (added to aws_auth_roles), so every later run can reach the cluster.
 */
export class TerraformRunner extends Construct {
  readonly role: iam.Role;
  readonly planProject: codebuild.Project;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TerraformRunnerProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
      description: 'Runs Terraform for the Compute Gateway; admitted to the cluster through aws_auth_roles',
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.planProject = new codebuild.Project(this, 'Plan', {
      description: 'terraform init + plan of a rendered gateway workspace',
      role: this.role,
      encryptionKey: props.key,
      buildSpec: codebuild.BuildSpec.fromObject(loadBuildspec('plan.yml')),
      environment: {
        buildImage: codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
        computeType: codebuild.ComputeType.SMALL,
        environmentVariables: {
          TF_VERSION: { value: props.terraformVersion },
          ARTIFACTS_BUCKET: { value: props.artifactsBucket.bucketName },
        },
      },
      // Provider plugins are the slow part of `terraform init`; the S3 cache carries them between builds.
      cache: codebuild.Cache.bucket(props.artifactsBucket, { prefix: 'codebuild-cache/plan' }),
      timeout: Duration.minutes(60),
      logging: { cloudWatch: { logGroup: this.logGroup } },
    });
    props.stateBucket.grantReadWrite(this.role);
  }
}

/** Buildspecs live as YAML files in buildspecs/ so they read like the seed's shell steps. */
export function loadBuildspec(file: string): Record<string, unknown> {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'buildspecs', file), 'utf-8');
  return parseYaml(text) as Record<string, unknown>;
}
