import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { GatewayConfig } from '../config';

export interface WorkflowProps {
  readonly config: GatewayConfig;
  readonly preflight: lambda.IFunction;
  readonly renderWorkspace: lambda.IFunction;
  readonly operatorsTopic: sns.ITopic;
  /** @default Duration.hours(48): room for a 24 h approval wait plus the Terraform runs */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/** Errors that say "try again": the Lambda service's own, and throttling or outages inside a handler's SDK calls. */
export const TRANSIENT_LAMBDA_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];
export const TRANSIENT_SDK_ERRORS = ['ThrottlingException', 'TooManyRequestsException', 'ServiceUnavailable', 'InternalFailure', 'InternalError', 'SlowDown', 'TimeoutError'];

/**
 * The state machine "GatewayDeployment": the seed's procedure as states. Data between states is small and
 * secret-free, since anyone with states:GetExecutionHistory reads it; the gateway config rides in the task
 * payloads as one JSON string, so the history also records exactly which config each run used.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const configJson = JSON.stringify(props.config);

    const failed = new sfn.Fail(this, 'DeploymentFailed', {
      comment: 'The run stopped; the operators topic has the error and its cause.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const notifyFailure = new tasks.SnsPublish(this, 'NotifyFailure', {
      comment: 'Tell operators which step failed and why (issue #4 adds the full failure report).',
      topic: props.operatorsTopic,
      subject: `Compute Gateway ${props.config.gatewayName}: deployment failed`,
      message: sfn.TaskInput.fromJsonPathAt(
        sfn.JsonPath.format(
          `Deployment of gateway ${props.config.gatewayName} failed.\nExecution: {}\nError: {}\nCause: {}`,
          sfn.JsonPath.stringAt('$$.Execution.Id'),
          sfn.JsonPath.stringAt('$.error.Error'),
          sfn.JsonPath.stringAt('$.error.Cause'),
        ),
      ),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyFailure.addRetry({ errors: ['SNS.SdkClientException', 'SNS.InternalErrorException', 'SNS.ThrottledException'], maxAttempts: 3, backoffRate: 2, interval: Duration.seconds(2) });
    // A failed notification must not hide the run's own error.
    notifyFailure.addCatch(failed, { resultPath: sfn.JsonPath.DISCARD });
    notifyFailure.next(failed);

    const receive = new sfn.Pass(this, 'ReceiveRequest', {
      comment: 'Keep the operator input under $.request, so every later state works on an object whatever was typed.',
      parameters: { 'request.$': '$' },
    });

    const preflight = this.lambdaStep('Preflight', props.preflight, {
      comment: 'Prerequisites and Deliverables: input, bundle, values secret, caller identity, version.',
      payload: { 'input.$': '$.request', config: configJson },
      resultPath: '$.preflight',
    });
    const renderWorkspace = this.lambdaStep('RenderWorkspace', props.renderWorkspace, {
      comment: 'Adding necessary Terraform files: gateway.tf.json, providers.tf.json, backend.tf.json, variables.tf.json.',
      payload: { config: configJson, 'runId.$': '$$.Execution.Name', 'preflight.$': '$.preflight' },
      resultPath: '$.workspace',
    });
    for (const step of [preflight, renderWorkspace]) step.addCatch(notifyFailure, { resultPath: '$.error' });

    const workspaceReady = new sfn.Succeed(this, 'WorkspaceReady', {
      comment: 'The workspace is in S3 under $.workspace.workspacePrefix; the Terraform runs follow it (issue #3).',
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `GatewayDeployment-${props.config.gatewayName}`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(receive.next(preflight).next(renderWorkspace).next(workspaceReady)),
      timeout: props.timeout ?? Duration.hours(48),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  private lambdaStep(
    id: string,
    fn: lambda.IFunction,
    opts: { comment: string; payload: Record<string, unknown>; resultPath: string },
  ): tasks.LambdaInvoke {
    const step = new tasks.LambdaInvoke(this, id, {
      comment: opts.comment,
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(opts.payload),
      // The handler's return value is the result; the invoke metadata would only bloat the history.
      payloadResponseOnly: true,
      resultPath: opts.resultPath,
    });
    step.addRetry({ errors: TRANSIENT_LAMBDA_ERRORS, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    step.addRetry({ errors: TRANSIENT_SDK_ERRORS, interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    return step;
  }
}
