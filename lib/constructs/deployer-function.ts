import { AssetHashType, DockerImage, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LAMBDAS_DIR, sharedLambdaBundle } from '../lambda-bundling';
import { acknowledge } from '../nag';

export interface DeployerFunctionProps {
  /** Folder under lambdas/ holding the handler's index.ts. */
  readonly handlerDir: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/** Every Lambda of the deployer: one place for runtime, architecture, tracing, log retention and bundling. */
export class DeployerFunction extends Construct {
  readonly function: lambda.Function;
  readonly logGroup: logs.LogGroup;
  /** The function's own role: its log group, X-Ray, and what the stack grants it; no managed policy. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DeployerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Not AWSLambdaBasicExecutionRole, which may create and write any log group in the account: this function's
    // log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Compute Gateway deployer Lambda ${props.handlerDir}`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new lambda.Function(this, 'Function', {
      role: this.role,
      // Bundled by lib/lambda-bundling.ts: all handlers in one esbuild build per synth.
      code: lambda.Code.fromAsset(path.join(LAMBDAS_DIR, props.handlerDir), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never pulled: local esbuild always succeeds (this machine kind has no Docker engine).
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
          local: {
            tryBundle(outputDir: string): boolean {
              fs.copyFileSync(sharedLambdaBundle(props.handlerDir).file, path.join(outputDir, 'index.js'));
              return true;
            },
          },
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      // arm64: cheaper per ms, and the bundle is plain JavaScript.
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.minutes(1),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        POWERTOOLS_SERVICE_NAME: `gateway-deployer-${props.handlerDir}`,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
    });
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      'Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level ' +
        'permissions ("*" is the only resource they accept). The only other "*" a deployer Lambda role may hold is ' +
        "Preflight's ec2:DescribeSubnets (create_vpc = false); test/cdk/iam.test.ts fails on any other.",
      ['Resource::*'],
    );
  }
}
