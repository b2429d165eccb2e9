import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import * as path from 'node:path';

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
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DeployerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new NodejsFunction(this, 'Function', {
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
      bundling: {
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
      },
    });
  }
}
