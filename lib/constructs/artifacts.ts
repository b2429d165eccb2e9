import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ArtifactsProps {
  /** Days to keep rendered workspaces, plans and reports. @default 90 */
  readonly runArtifactDays?: number;
}

/**
 * Where the deployer keeps things: the vendor's bundles and each run's files (artifacts bucket), the Terraform
 * state (state bucket), and the lock, approval and history items (table). One KMS key encrypts them all, so
 * reading any of it needs both the resource grant and the key grant.
 */
export class Artifacts extends Construct {
  readonly key: kms.Key;
  readonly accessLogsBucket: s3.Bucket;
  /** releases/ (bundles), workspaces/, plans/, reports/; EventBridge notifications on for the release trigger. */
  readonly artifactsBucket: s3.Bucket;
  /** Terraform state; retained when the stack is deleted, since losing it orphans the gateway's resources. */
  readonly stateBucket: s3.Bucket;
  /** pk/sk single table: lock per gateway, approval tokens, deployment history, last deployed version. */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ArtifactsProps = {}) {
    super(scope, id);
    const days = props.runArtifactDays ?? 90;

    this.key = new kms.Key(this, 'Key', {
      description: 'Compute Gateway deployer: bundles, workspaces, Terraform state, deployment records, topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access logs can only be delivered to a bucket with S3-managed encryption.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const secure: s3.BucketProps = {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      removalPolicy: RemovalPolicy.RETAIN,
    };

    this.artifactsBucket = new s3.Bucket(this, 'ArtifactsBucket', {
      ...secure,
      serverAccessLogsPrefix: 'artifacts/',
      eventBridgeEnabled: true,
      lifecycleRules: ['workspaces/', 'plans/', 'reports/'].map((prefix) => ({
        prefix,
        expiration: Duration.days(days),
        noncurrentVersionExpiration: Duration.days(days),
      })),
    });

    this.stateBucket = new s3.Bucket(this, 'StateBucket', {
      ...secure,
      serverAccessLogsPrefix: 'state/',
      // Old state versions are the way back from a bad apply; keep a year of them.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(365) }],
    });

    this.table = new dynamodb.Table(this, 'Deployments', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
