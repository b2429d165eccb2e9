import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { GatewayConfig } from '../config';

export interface WorkflowProps {
  readonly config: GatewayConfig;
  readonly preflight: lambda.IFunction;
  readonly renderWorkspace: lambda.IFunction;
  readonly analyzePlan: lambda.IFunction;
  readonly requestApproval: lambda.IFunction;
  readonly evaluateVerification: lambda.IFunction;
  readonly recordDeployment: lambda.IFunction;
  readonly notify: lambda.IFunction;
  readonly planProject: codebuild.IProject;
  readonly applyProject: codebuild.IProject;
  readonly verifyProject: codebuild.IProject;
  /** @default Duration.hours(48): room for the approval wait plus the Terraform runs */
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
/** CodeBuild refusing to start a build. A build that ran and failed (States.TaskFailed) is never retried. */
export const TRANSIENT_CODEBUILD_ERRORS = ['CodeBuild.AccountLimitExceededException', 'CodeBuild.CodeBuildException', 'CodeBuild.AWSCodeBuildException'];

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
    const { config } = props;
    const configJson = JSON.stringify(config);

    const failed = new sfn.Fail(this, 'DeploymentFailed', {
      comment: 'The run stopped; the operators topic has the error and its cause.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const execution = {
      gateway: config.gatewayName,
      'executionArn.$': '$$.Execution.Id',
      'executionName.$': '$$.Execution.Name',
      'startTime.$': '$$.Execution.StartTime',
      'state.$': '$',
    };
    const notifyFailure = this.lambdaStep('NotifyFailure', props.notify, {
      comment: 'Tell operators which step failed, why, where its log is and what to do next; record the failed run.',
      payload: { kind: 'failure', ...execution },
      resultPath: sfn.JsonPath.DISCARD,
    });
    // A failed notification must not hide the run's own error.
    notifyFailure.addCatch(failed, { resultPath: sfn.JsonPath.DISCARD });
    notifyFailure.next(failed);
    const catchAll = (state: sfn.TaskStateBase) => state.addCatch(notifyFailure, { resultPath: '$.error' });

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
      comment: 'Adding necessary Terraform files: gateway, providers, backend, variables and outputs as Terraform JSON.',
      payload: { config: configJson, 'runId.$': '$$.Execution.Name', 'preflight.$': '$.preflight' },
      resultPath: '$.workspace',
    });

    const runOverrides = {
      GATEWAY: { value: config.gatewayName },
      RUN_ID: { value: sfn.JsonPath.stringAt('$$.Execution.Name') },
      WORKSPACE_PREFIX: { value: sfn.JsonPath.stringAt('$.workspace.workspacePrefix') },
      BUNDLE_KEY: { value: sfn.JsonPath.stringAt('$.preflight.bundle.key') },
      BUNDLE_VERSION_ID: { value: sfn.JsonPath.stringAt('$.preflight.bundle.versionId') },
      BUNDLE_SHA256: { value: sfn.JsonPath.stringAt('$.preflight.bundle.sha256') },
      VALUES_SECRET_ARN: { value: sfn.JsonPath.stringAt('$.preflight.values.secretArn') },
      VALUES_SECRET_VERSION_ID: { value: sfn.JsonPath.stringAt('$.preflight.values.versionId') },
    };
    const plan = this.buildStep('Plan', props.planProject, {
      comment: 'Running terraform init, then plan -out: the plan binary and a redacted plan go to S3.',
      overrides: runOverrides,
      resultPath: '$.plan',
    });
    const analyzePlan = this.lambdaStep('AnalyzePlan', props.analyzePlan, {
      comment: '"Plan: X to add, Y to change, Z to destroy", replaced addresses, risk, and who must approve.',
      payload: { config: configJson, 'preflight.$': '$.preflight', 'plan.$': '$.plan' },
      resultPath: '$.analysis',
    });

    const requestApproval = new tasks.LambdaInvoke(this, 'RequestApproval', {
      comment: '"Do you want to perform these actions?" asked of operators; the CLI answers with the stored task token.',
      lambdaFunction: props.requestApproval,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        'executionArn.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        config: configJson,
        'preflight.$': '$.preflight',
        'analysis.$': '$.analysis',
      }),
      taskTimeout: sfn.Timeout.duration(Duration.hours(config.approval.timeoutHours)),
      resultPath: '$.approval',
    });
    requestApproval.addRetry({ errors: TRANSIENT_LAMBDA_ERRORS, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    const approvalTimedOut = new sfn.Pass(this, 'ApprovalTimedOut', {
      comment: 'Name the timeout for operators: nobody answered in time, nothing was applied.',
      parameters: {
        Error: 'ApprovalTimedOut',
        Cause: `no operator approved or rejected the plan within ${config.approval.timeoutHours} h; nothing was applied`,
      },
      resultPath: '$.error',
    });
    approvalTimedOut.next(notifyFailure);
    requestApproval.addCatch(approvalTimedOut, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.error' });

    const autoApprove = new sfn.Pass(this, 'AutoApprove', {
      comment: 'Recorded like a person\'s decision: the configuration approved it, and why.',
      parameters: { approved: true, decidedBy: 'policy: approval.autoApproveS3Upgrades', 'reason.$': '$.analysis.because' },
      resultPath: '$.approval',
    });

    const apply = this.buildStep('Apply', props.applyProject, {
      comment: 'Running terraform apply of exactly the saved plan; outputs and known failures go to S3.',
      overrides: { ...runOverrides, PLAN_PREFIX: { value: sfn.JsonPath.stringAt('$.analysis.planPrefix') } },
      resultPath: '$.apply',
    });

    const verify = this.buildStep('Verify', props.verifyProject, {
      comment: 'Post-install / Post-upgrade: agent image and rollout, helm test connectivity, capacity report.',
      overrides: {
        GATEWAY: runOverrides.GATEWAY,
        RUN_ID: runOverrides.RUN_ID,
        VALUES_SECRET_ARN: runOverrides.VALUES_SECRET_ARN,
        VALUES_SECRET_VERSION_ID: runOverrides.VALUES_SECRET_VERSION_ID,
      },
      resultPath: '$.verify',
    });
    const evaluate = this.lambdaStep('EvaluateVerification', props.evaluateVerification, {
      comment: 'The running agent version against the one communicated with the deliverables; rollout; connectivity.',
      payload: { 'preflight.$': '$.preflight', 'verify.$': '$.verify' },
      resultPath: '$.evaluation',
    });
    const record = this.lambdaStep('RecordDeployment', props.recordDeployment, {
      comment: 'A history item for the run and the last deployed version that Preflight compares against.',
      payload: execution,
      resultPath: '$.record',
    });
    const notifySuccess = this.lambdaStep('NotifySuccess', props.notify, {
      comment: 'Wrapping up: the completion report to support with the request to run the smoke tests; operators too.',
      payload: { kind: 'success', ...execution },
      resultPath: sfn.JsonPath.DISCARD,
    });
    const deployed = new sfn.Succeed(this, 'Deployed', { comment: 'Applied, verified, recorded, and support told.' });

    for (const step of [preflight, renderWorkspace, plan, analyzePlan, requestApproval, apply, verify, evaluate, record, notifySuccess]) catchAll(step);

    const nothingToApply = new sfn.Pass(this, 'NothingToApply', { comment: 'The plan had no changes: nothing to approve or apply, but still verify.' });
    const verification = verify.next(evaluate).next(record).next(notifySuccess).next(deployed);
    nothingToApply.next(verification);
    apply.next(verify);

    const gate = new sfn.Choice(this, 'ApprovalGate', { comment: 'Auto-approve only when the policy allows it and the plan is low risk.' })
      .when(sfn.Condition.stringEquals('$.analysis.decision', 'no-changes'), nothingToApply)
      .when(sfn.Condition.stringEquals('$.analysis.decision', 'auto-approve'), autoApprove.next(apply))
      .otherwise(requestApproval.next(apply));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `GatewayDeployment-${config.gatewayName}`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(receive.next(preflight).next(renderWorkspace).next(plan).next(analyzePlan).next(gate)),
      timeout: props.timeout ?? Duration.hours(config.approval.timeoutHours + 24),
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

  private buildStep(
    id: string,
    project: codebuild.IProject,
    opts: { comment: string; overrides: Record<string, codebuild.BuildEnvironmentVariable>; resultPath: string },
  ): tasks.CodeBuildStartBuild {
    const step = new tasks.CodeBuildStartBuild(this, id, {
      comment: opts.comment,
      project,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      environmentVariablesOverride: opts.overrides,
      // Only the build id and the exported variables: the Build object repeats every override and phase.
      resultSelector: { 'buildId.$': '$.Build.Id', 'exported.$': '$.Build.ExportedEnvironmentVariables' },
      resultPath: opts.resultPath,
    });
    step.addRetry({ errors: TRANSIENT_CODEBUILD_ERRORS, interval: Duration.seconds(30), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    return step;
  }
}
