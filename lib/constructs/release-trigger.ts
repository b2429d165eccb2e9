import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../nag';
import { DeployerFunction } from './deployer-function';

export interface ReleaseTriggerProps {
  readonly gatewayName: string;
  readonly artifactsBucket: s3.IBucket;
  /** Where bundles land, e.g. `releases/`. */
  readonly releasesPrefix: string;
  /** What an upload may start by itself: the config's releaseTrigger. */
  readonly policy: { readonly allowPrereleases: boolean; readonly maxMajorStep: number };
  readonly stateMachine: sfn.IStateMachine;
  readonly table: dynamodb.ITable;
  readonly operatorsTopic: sns.ITopic;
  readonly key: kms.IKey;
}

/**
 * A new gateway-<version>.zip under the releases prefix starts an upgrade by itself: an EventBridge rule on the
 * artifacts bucket's Object Created events, and a Lambda that decides and starts the run once per object.
 */
export class ReleaseTrigger extends Construct {
  readonly function: DeployerFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ReleaseTriggerProps) {
    super(scope, id);
    this.function = new DeployerFunction(this, 'Handler', {
      handlerDir: 'release-trigger',
      description: 'Starts an upgrade when a newer gateway bundle lands under the releases prefix',
      environment: {
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        DEPLOYMENTS_TABLE: props.table.tableName,
        OPERATORS_TOPIC_ARN: props.operatorsTopic.topicArn,
        GATEWAY_NAME: props.gatewayName,
        RELEASES_PREFIX: props.releasesPrefix,
        ARTIFACTS_BUCKET: props.artifactsBucket.bucketName,
        ALLOW_PRERELEASES: String(props.policy.allowPrereleases),
        MAX_MAJOR_STEP: String(props.policy.maxMajorStep),
      },
    });
    const fn = this.function.function;
    props.stateMachine.grantStartExecution(fn);
    props.table.grant(fn, 'dynamodb:GetItem');
    // Its proof that it started a run (TRIGGER#<execution> items only; the table's resource policy keeps others out).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TRIGGER#*'] } },
      }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.operatorsTopic.topicArn] }));
    props.key.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
    // HeadObject of the uploaded bundle, for its metadata (expected-agent-version, sha256); never its bytes' use.
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [props.artifactsBucket.arnForObjects(`${props.releasesPrefix}*`)] }),
    );
    acknowledge(
      fn.role!,
      'AwsSolutions-IAM5',
      'The uploaded bundles gateway-<version>.zip under the releases prefix of this stack\'s artifacts bucket (their names are unknown at deploy time): read for their metadata only.',
      [nagResource(this, props.artifactsBucket.arnForObjects(`${props.releasesPrefix}*`))],
    );

    this.rule = new events.Rule(this, 'BundleUploaded', {
      description: 'A gateway bundle was uploaded under the releases prefix',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.artifactsBucket.bucketName] },
          object: { key: [{ prefix: props.releasesPrefix }] },
        },
      },
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 3 })],
    });
  }
}
