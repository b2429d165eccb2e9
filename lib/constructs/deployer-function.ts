import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as path from 'node:path';
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

/**
 * How every Lambda is bundled (esbuild). The bundle budget (README "Performance": each bundle at most 250 KB, its
 * cold import at most 200 ms) is checked against these same options by test/cdk/lambda-bundles.test.ts and
 * `npm run bench`, through test/support/lambda-bundles.ts.
 */
export const LAMBDA_BUNDLING = {
  // The Node 22 runtime ships AWS SDK v3: leaving it out keeps bundles small and cold starts short.
  externalModules: ['@aws-sdk/*'],
  minify: true,
  // Error class names are what Step Functions retries and catches on; minifying must not rename them.
  keepNames: true,
  // No source maps: they double the bundle, and handler stack traces are short.
  sourceMap: false,
  target: 'node22',
  format: OutputFormat.CJS,
  // Local esbuild only: this machine kind has no Docker engine.
  forceDockerBundling: false,
} as const satisfies BundlingOptions;

/** Every Lambda of the deployer: one place for runtime, architecture, tracing, log retention and bundling. */
export class DeployerFunction extends Construct {
  readonly function: NodejsFunction;
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
    this.function = new NodejsFunction(this, 'Function', {
      role: this.role,
      entry: path.join(__dirname, '..', '..', 'lambdas', props.handlerDir, 'index.ts'),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
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
      bundling: LAMBDA_BUNDLING,
    });
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      'Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level ' +
        'permissions ("*" is the only resource they accept). The only other "*" a deployer Lambda role may hold is ' +
        "Preflight's ec2:DescribeSubnets (create_vpc = false); test/cdk/iam.test.ts fails on any other.",
      ['Resource::*'],
    );
    acknowledge(
      this.function,
      'AwsSolutions-L1',
      'nodejs22.x is a supported Lambda runtime on an LTS line (upstream security support until April 2027) and ' +
        'receives the managed runtime patches; cdk-nag asks for nodejs24.x, the newest runtime CDK knows. The bundles ' +
        'target node22 and rely on the AWS SDK the runtime ships; moving to 24 changes both and is an upgrade to make ' +
        'and test on its own, not a lint fix.',
    );
  }
}
