import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { GatewayConfig } from '../config';
import { APPLY_BUILD_MINUTES, PLAN_BUILD_MINUTES, QUEUED_BUILD_MINUTES, clusterBuildMinutes, runTimeoutHours } from '../../lambdas/shared/domain/run-budget';

export interface WorkflowProps {
  readonly config: GatewayConfig;
  readonly acquireLock: lambda.IFunction;
  readonly remediate: lambda.IFunction;
  /** The lock item lives here; the state machine deletes it itself at every end. */
  readonly table: dynamodb.ITable;
  readonly preflight: lambda.IFunction;
  readonly renderWorkspace: lambda.IFunction;
  readonly analyzePlan: lambda.IFunction;
  readonly requestApproval: lambda.IFunction;
  /** Reads the approval function's record after every approval wait; the run goes on only for a valid approval. */
  readonly checkApproval: lambda.IFunction;
  readonly evaluateVerification: lambda.IFunction;
  readonly recordDeployment: lambda.IFunction;
  readonly notify: lambda.IFunction;
  readonly planProject: codebuild.IProject;
  readonly applyProject: codebuild.IProject;
  readonly verifyProject: codebuild.IProject;
  /** @default the longest path (three approval waits, every build at its limit): domain/run-budget.ts */
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
export const TRANSIENT_SDK_ERRORS = ['ThrottlingException', 'TooManyRequestsException', 'ServiceUnavailable', 'InternalFailure', 'InternalError', 'SlowDown', 'TimeoutError', 'TransientAwsError'];
export const TRANSIENT_DYNAMODB_ERRORS = [
  'DynamoDB.ProvisionedThroughputExceededException',
  'DynamoDB.RequestLimitExceeded',
  'DynamoDB.ThrottlingException',
  'DynamoDB.InternalServerErrorException',
  'DynamoDB.AmazonDynamoDBException',
];
/** The state machine's name: the AcquireLock function needs it before the state machine exists. */
export const stateMachineName = (gateway: string): string => `GatewayDeployment-${gateway}`;
/** CodeBuild refusing to start a build. A build that ran and failed (States.TaskFailed) is never retried. */
export const TRANSIENT_CODEBUILD_ERRORS = ['CodeBuild.AccountLimitExceededException', 'CodeBuild.CodeBuildException', 'CodeBuild.AWSCodeBuildException'];

/**
 * The state machine "GatewayDeployment": the HOWTO's procedure as states. Data between states is small and
 * secret-free, since anyone with states:GetExecutionHistory reads it; the gateway config rides in the task
 * payloads as one JSON string, so the history also records exactly which config each run used.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  /** The state machine's timeout: RunEnded names it in a timed-out run's notice. */
  readonly timeoutHours: number;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { config } = props;
    const configJson = JSON.stringify(config);
    const operationIs = (op: string) => sfn.Condition.stringEquals('$.preflight.operation', op);

    const execution = {
      gateway: config.gatewayName,
      'executionArn.$': '$$.Execution.Id',
      'executionName.$': '$$.Execution.Name',
      'startTime.$': '$$.Execution.StartTime',
      'state.$': '$',
    };

    // Every end passes ReleaseLock, then RunOutcome names it. The delete is conditional on this execution
    // holding the lock, so a run that never got it (deployment in progress) cannot free another run's lock.
    const failed = new sfn.Fail(this, 'DeploymentFailed', {
      comment: 'The run stopped; the operators topic has the error and its cause.',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const outcome = new sfn.Choice(this, 'RunOutcome', { comment: 'Which end this was: a failure, or the operation that finished.' })
      .when(sfn.Condition.isPresent('$.error'), failed)
      .when(operationIs('drift-check'), new sfn.Succeed(this, 'DriftChecked', { comment: 'Plan only: operators were told if it was not empty.' }))
      .when(operationIs('detach-vpc'), new sfn.Succeed(this, 'VpcDetached', { comment: 'module.vpc is out of the Terraform state, which was backed up first.' }))
      .otherwise(new sfn.Succeed(this, 'Deployed', { comment: 'Applied, verified, recorded, and support told.' }));
    const releaseLock = new tasks.DynamoDeleteItem(this, 'ReleaseLock', {
      comment: 'One run per gateway: free the lock, if this execution holds it.',
      table: props.table,
      key: { pk: tasks.DynamoAttributeValue.fromString(`GATEWAY#${config.gatewayName}`), sk: tasks.DynamoAttributeValue.fromString('LOCK') },
      conditionExpression: 'executionArn = :me',
      expressionAttributeValues: { ':me': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.Execution.Id')) },
      resultPath: sfn.JsonPath.DISCARD,
    });
    releaseLock.addRetry({ errors: TRANSIENT_DYNAMODB_ERRORS, interval: Duration.seconds(2), maxAttempts: 4, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    // Not holding the lock, or DynamoDB down after the retries: a lock left behind is stale, and the next run takes it over.
    releaseLock.addCatch(outcome, { resultPath: '$.lockNotReleased' });
    releaseLock.next(outcome);

    const notifyFailure = this.lambdaStep('NotifyFailure', props.notify, {
      comment: 'Tell operators which step failed, why, where its log is and what to do next; record the failed run.',
      payload: { kind: 'failure', ...execution },
      resultPath: sfn.JsonPath.DISCARD,
    });
    // A failed notification must not hide the run's own error, nor keep the lock.
    notifyFailure.addCatch(releaseLock, { resultPath: sfn.JsonPath.DISCARD });
    notifyFailure.next(releaseLock);
    const catchAll = (state: sfn.TaskStateBase) => state.addCatch(notifyFailure, { resultPath: '$.error' });

    const receive = new sfn.Pass(this, 'ReceiveRequest', {
      comment: 'Keep the operator input under $.request, so every later state works on an object whatever was typed.',
      parameters: { 'request.$': '$' },
    });
    const acquireLock = this.lambdaStep('AcquireLock', props.acquireLock, {
      comment: 'One run per gateway: a conditional write of this execution into the lock item; a stale holder is taken over.',
      payload: { gateway: config.gatewayName, 'executionArn.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime' },
      resultPath: '$.lock',
    });
    // A scheduled drift check that meets a running deployment has nothing to check: that run plans anyway.
    const lockHeld = new sfn.Choice(this, 'LockHeld', { comment: 'A drift check steps aside quietly; any other run is refused and operators are told.' })
      .when(
        sfn.Condition.and(sfn.Condition.isPresent('$.request.operation'), sfn.Condition.stringEquals('$.request.operation', 'drift-check')),
        new sfn.Succeed(this, 'DriftCheckSkipped', { comment: 'A deployment was running; the next scheduled check runs as usual.' }),
      )
      .otherwise(notifyFailure);
    acquireLock.addCatch(lockHeld, { errors: ['DeploymentInProgress'], resultPath: '$.error' });

    const preflight = this.lambdaStep('Preflight', props.preflight, {
      comment: 'Prerequisites and Deliverables: input, bundle, values secret, caller identity, version.',
      // The execution name: a run marked "trigger": "s3" must have the release trigger's proof under it.
      payload: { 'input.$': '$.request', config: configJson, 'executionName.$': '$$.Execution.Name' },
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
      // The build checks that this execution still holds the lock: a redriven run resumes past AcquireLock.
      EXECUTION_ARN: { value: sfn.JsonPath.stringAt('$$.Execution.Id') },
      WORKSPACE_PREFIX: { value: sfn.JsonPath.stringAt('$.workspace.workspacePrefix') },
      BUNDLE_KEY: { value: sfn.JsonPath.stringAt('$.preflight.bundle.key') },
      BUNDLE_VERSION_ID: { value: sfn.JsonPath.stringAt('$.preflight.bundle.versionId') },
      BUNDLE_SHA256: { value: sfn.JsonPath.stringAt('$.preflight.bundle.sha256') },
      VALUES_SECRET_ARN: { value: sfn.JsonPath.stringAt('$.preflight.values.secretArn') },
      VALUES_SECRET_VERSION_ID: { value: sfn.JsonPath.stringAt('$.preflight.values.versionId') },
    };
    const clusterOverrides = (action: string) => ({
      GATEWAY: runOverrides.GATEWAY,
      RUN_ID: runOverrides.RUN_ID,
      EXECUTION_ARN: runOverrides.EXECUTION_ARN,
      VALUES_SECRET_ARN: runOverrides.VALUES_SECRET_ARN,
      VALUES_SECRET_VERSION_ID: runOverrides.VALUES_SECRET_VERSION_ID,
      CLUSTER_ACTION: { value: action },
    });
    const plan = this.buildStep('Plan', props.planProject, {
      comment: 'Running terraform init, then plan -out: the plan binary and a redacted plan go to S3.',
      overrides: runOverrides,
      resultPath: '$.plan',
    });
    const listVpcState = this.buildStep('ListVpcState', props.planProject, {
      comment: 'FAQ "Can I manage the AWS VPC setup?": the module.vpc addresses in the Terraform state, for approval.',
      overrides: { ...runOverrides, TERRAFORM_COMMAND: { value: 'list-vpc' } },
      resultPath: '$.plan',
    });
    const analyzePlan = this.lambdaStep('AnalyzePlan', props.analyzePlan, {
      comment: '"Plan: X to add, Y to change, Z to destroy", replaced addresses, risk, and who must approve.',
      payload: { config: configJson, 'preflight.$': '$.preflight', 'plan.$': '$.plan' },
      resultPath: '$.analysis',
    });

    const approvalTimedOut = new sfn.Pass(this, 'ApprovalTimedOut', {
      comment: 'Name the timeout for operators: nobody answered in time, nothing was applied.',
      parameters: {
        Error: 'ApprovalTimedOut',
        Cause: `no operator approved or rejected within ${config.approval.timeoutHours} h; nothing was applied`,
      },
      resultPath: '$.error',
    });
    approvalTimedOut.next(notifyFailure);
    const [requestApproval, checkApproval] = this.approvalRound('RequestApproval', 'CheckApproval', props, {
      comment: '"Do you want to perform these actions?" asked of operators; the approval function wakes the run.',
      analysisPath: '$.analysis',
      subjectBuildPath: '$.plan.buildId',
      resultPath: '$.approval',
      configJson,
      onTimeout: approvalTimedOut,
    });
    const autoApprove = new sfn.Pass(this, 'AutoApprove', {
      comment: 'Recorded like a person\'s decision: the configuration approved it, and why.',
      parameters: { approved: true, decidedBy: 'policy: approval.autoApproveS3Upgrades', 'reason.$': '$.analysis.because' },
      resultPath: '$.approval',
    });

    // What was approved (or auto-approved): Apply and DetachVpc refuse any other bytes (PlanChanged).
    const approvedPlan = {
      PLAN_SHA256: { value: sfn.JsonPath.stringAt('$.analysis.planSha256') },
      PLAN_VERSION_ID: { value: sfn.JsonPath.stringAt('$.analysis.planVersionId') },
    };
    const apply = this.buildStep('Apply', props.applyProject, {
      comment: 'Running terraform apply of exactly the saved plan; outputs and known failures go to S3.',
      overrides: { ...runOverrides, PLAN_PREFIX: { value: sfn.JsonPath.stringAt('$.analysis.planPrefix') }, ...approvedPlan },
      resultPath: '$.apply',
    });
    const detachVpc = this.buildStep('DetachVpc', props.applyProject, {
      comment: 'terraform state rm of exactly the approved module.vpc addresses, after a state backup in S3.',
      overrides: { ...runOverrides, TERRAFORM_COMMAND: { value: 'detach-vpc' }, ...approvedPlan },
      resultPath: '$.detach',
    });

    // FAQ "cannot re-use a name that is still in use": inspect, ask, uninstall, re-plan and apply once.
    const applyFailed = new sfn.Pass(this, 'ApplyFailed', {
      comment: 'The Apply error becomes the run\'s error for the failure notice.',
      inputPath: '$.applyError',
      resultPath: '$.error',
    });
    applyFailed.next(notifyFailure);
    const diagnose = this.lambdaStep('DiagnoseApplyFailure', props.remediate, {
      comment: 'Is this the HOWTO\'s known name-reuse failure, about the gateway\'s own release, met for the first time in this run?',
      payload: { kind: 'diagnose', gateway: config.gatewayName, 'executionName.$': '$$.Execution.Name', 'state.$': '$' },
      resultPath: '$.applyFailure',
    });
    diagnose.addCatch(applyFailed, { resultPath: sfn.JsonPath.DISCARD });
    apply.addCatch(diagnose, { errors: [sfn.Errors.TASKS_FAILED], resultPath: '$.applyError' });
    const inspectRelease = this.buildStep('InspectRelease', props.verifyProject, {
      comment: 'Who manages the apheris-gateway release: Helm release secrets, Flux or Argo CD labels, the Terraform state.',
      overrides: clusterOverrides('inspect-release'),
      resultPath: '$.releaseInspection',
    });
    const prepareUninstall = this.lambdaStep('PrepareUninstall', props.remediate, {
      comment: 'Stops with the finding when another system manages the release; otherwise words the approval.',
      payload: { kind: 'prepare', 'inspection.$': '$.releaseInspection' },
      resultPath: '$.remediation',
    });
    const [approveUninstall, checkUninstallApproval] = this.approvalRound('ApproveUninstall', 'CheckUninstallApproval', props, {
      comment: 'Ask before helm uninstall apheris-gateway -n apheris.',
      analysisPath: '$.remediation.analysis',
      subjectBuildPath: '$.releaseInspection.buildId',
      resultPath: '$.uninstallApproval',
      configJson,
      onTimeout: approvalTimedOut,
    });
    const uninstallRelease = this.buildStep('UninstallRelease', props.verifyProject, {
      comment: 'helm uninstall apheris-gateway -n apheris, after checking again that nobody else manages it.',
      overrides: clusterOverrides('uninstall-release'),
      resultPath: '$.uninstall',
    });
    const remediable = new sfn.Choice(this, 'Remediable', { comment: 'Only the name reuse of the gateway\'s own release, and only once a run.' })
      .when(sfn.Condition.stringEquals('$.applyFailure.action', 'inspect-release'), inspectRelease)
      .otherwise(applyFailed);
    diagnose.next(remediable);
    inspectRelease.next(prepareUninstall);
    // The re-plan starts a fresh round: the first round's plan, approval and Apply error are dropped, so a
    // failure in the second round is reported (and judged by DiagnoseApplyFailure) on its own results.
    const kept = ['request', 'lock', 'preflight', 'workspace', 'applyFailure', 'releaseInspection', 'remediation'];
    const freshRound = (stateId: string, extra: string[]) =>
      new sfn.Pass(this, stateId, {
        comment: 'Keep what the remediation learnt; drop the failed round\'s plan, approval and error.',
        parameters: Object.fromEntries([...kept, ...extra].map((k) => [`${k}.$`, `$.${k}`])),
      }).next(plan);
    checkUninstallApproval.next(uninstallRelease);
    uninstallRelease.next(freshRound('RePlanAfterUninstall', ['uninstallApproval', 'uninstall']));
    prepareUninstall.next(
      new sfn.Choice(this, 'UninstallGate', { comment: 'Gone already: re-plan at once. Unmanaged: ask first.' })
        .when(sfn.Condition.stringEquals('$.remediation.decision', 're-plan'), freshRound('RePlan', []))
        .otherwise(approveUninstall),
    );
    const verify = this.buildStep('Verify', props.verifyProject, {
      comment: 'Post-install / Post-upgrade: agent image and rollout, helm test connectivity, capacity report.',
      overrides: clusterOverrides('verify'),
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
    const notifyDrift = this.lambdaStep('NotifyDrift', props.notify, {
      comment: 'Drift detection: operators hear of a plan that is not empty, with its summary; nothing is applied.',
      payload: { kind: 'drift', ...execution },
      resultPath: sfn.JsonPath.DISCARD,
    });
    const notifyDetached = this.lambdaStep('NotifyDetached', props.notify, {
      comment: 'The removed addresses, the state backup, and the next step (create_vpc = false); recorded in the history.',
      payload: { kind: 'detached', ...execution },
      resultPath: sfn.JsonPath.DISCARD,
    });

    for (const step of [
      acquireLock, preflight, renderWorkspace, plan, listVpcState, analyzePlan, requestApproval, checkApproval, apply, detachVpc,
      inspectRelease, prepareUninstall, approveUninstall, checkUninstallApproval, uninstallRelease, verify, evaluate, record, notifySuccess, notifyDrift, notifyDetached,
    ]) catchAll(step);

    const nothingToApply = new sfn.Pass(this, 'NothingToApply', { comment: 'The plan had no changes: nothing to approve or apply, but still verify.' });
    verify.next(evaluate).next(record).next(notifySuccess).next(releaseLock);
    nothingToApply.next(verify);
    apply.next(verify);
    notifyDrift.next(releaseLock);
    detachVpc.next(notifyDetached);
    notifyDetached.next(releaseLock);
    plan.next(analyzePlan);
    listVpcState.next(analyzePlan);

    const afterApproval = new sfn.Choice(this, 'AfterApproval', { comment: 'Approved: detach the listed addresses, or apply the plan.' })
      .when(operationIs('detach-vpc'), detachVpc)
      .otherwise(apply);
    checkApproval.next(afterApproval);
    const gate = new sfn.Choice(this, 'ApprovalGate', { comment: 'Drift checks never apply; auto-approve only when the policy allows it and the plan is low risk.' })
      .when(operationIs('drift-check'), notifyDrift)
      .when(sfn.Condition.and(operationIs('detach-vpc'), sfn.Condition.stringEquals('$.analysis.decision', 'no-changes')), notifyDetached)
      .when(sfn.Condition.stringEquals('$.analysis.decision', 'no-changes'), nothingToApply)
      .when(sfn.Condition.stringEquals('$.analysis.decision', 'auto-approve'), autoApprove.next(apply))
      .otherwise(requestApproval);
    analyzePlan.next(gate);

    const operation = new sfn.Choice(this, 'Operation', { comment: 'deploy and drift-check plan; detach-vpc lists the module.vpc state.' })
      .when(operationIs('detach-vpc'), listVpcState)
      .otherwise(plan);

    this.timeoutHours =
      props.timeout?.toHours() ??
      runTimeoutHours(config.approval.timeoutHours, {
        planMinutes: PLAN_BUILD_MINUTES,
        applyMinutes: APPLY_BUILD_MINUTES,
        clusterMinutes: clusterBuildMinutes(config.verify),
        queuedMinutes: QUEUED_BUILD_MINUTES,
      });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Under /aws/vendedlogs/, as Step Functions recommends: log delivery then needs no entry in the account's
      // CloudWatch Logs resource policy, whose size is limited.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName(config.gatewayName)}`,
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: stateMachineName(config.gatewayName),
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(receive.next(acquireLock).next(preflight).next(renderWorkspace).next(operation)),
      timeout: Duration.hours(this.timeoutHours),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
  }

  /**
   * An approval round: the wait (approvalStep) and the check that must follow it (checkStep), chained, on the same
   * analysis and subject build, so the two can never ask about different things.
   */
  private approvalRound(
    waitId: string,
    checkId: string,
    props: WorkflowProps,
    opts: { comment: string; analysisPath: string; subjectBuildPath: string; resultPath: string; configJson: string; onTimeout: sfn.IChainable },
  ): [tasks.LambdaInvoke, tasks.LambdaInvoke] {
    const wait = this.approvalStep(waitId, props.requestApproval, opts);
    const check = this.checkStep(checkId, props.checkApproval, { ...opts, approvalState: waitId });
    wait.next(check);
    return [wait, check];
  }

  /**
   * A `.waitForTaskToken` approval: the RequestApproval function stores the round (this state and the build whose
   * output is approved) with the token, and asks the operators. What the task returns is never trusted: a check
   * step follows every one of these (checkStep).
   */
  private approvalStep(
    id: string,
    fn: lambda.IFunction,
    opts: { comment: string; analysisPath: string; subjectBuildPath: string; configJson: string; onTimeout: sfn.IChainable },
  ): tasks.LambdaInvoke {
    const step = new tasks.LambdaInvoke(this, id, {
      comment: opts.comment,
      lambdaFunction: fn,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        approvalState: id,
        'subjectBuildId.$': opts.subjectBuildPath,
        'executionArn.$': '$$.Execution.Id',
        'executionName.$': '$$.Execution.Name',
        config: opts.configJson,
        'preflight.$': '$.preflight',
        'analysis.$': opts.analysisPath,
      }),
      taskTimeout: sfn.Timeout.duration(Duration.hours(JSON.parse(opts.configJson).approval.timeoutHours)),
      // Whatever the sender of the task result wrote is dropped: the check step after it records the approval.
      resultPath: sfn.JsonPath.DISCARD,
    });
    step.addRetry({ errors: TRANSIENT_LAMBDA_ERRORS, interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2, jitterStrategy: sfn.JitterType.FULL });
    step.addCatch(opts.onTimeout, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.error' });
    return step;
  }

  /**
   * After an approval wait: the approval function's record for this execution and round must approve the digest
   * the next step acts on, by a principal of approval.approvers; else ApprovalNotValid. Its result replaces what
   * woke the run, so the history and the deployment record name the verified approver.
   */
  private checkStep(
    id: string,
    fn: lambda.IFunction,
    opts: { approvalState: string; analysisPath: string; subjectBuildPath: string; resultPath: string; configJson: string },
  ): tasks.LambdaInvoke {
    return this.lambdaStep(id, fn, {
      comment: `Lets the run go on only for a recorded approval of this round of ${opts.approvalState}, of this digest, by an approver of the config.`,
      payload: {
        config: opts.configJson,
        'executionName.$': '$$.Execution.Name',
        approvalState: opts.approvalState,
        'subjectBuildId.$': opts.subjectBuildPath,
        'planSha256.$': `${opts.analysisPath}.planSha256`,
      },
      resultPath: opts.resultPath,
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
