import { ArnFormat, Aws, CfnOutput, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { checkKnownRegions, type GatewayConfig } from './config';
import { parseGatewayConfig, type GatewayConfigInput } from '../lambdas/shared/domain/gateway-config';
import { Artifacts } from './constructs/artifacts';
import { acknowledge, nagPolicy, nagResource } from './nag';
import { DeployerFunction } from './constructs/deployer-function';
import { Notifications } from './constructs/notifications';
import { ReleaseTrigger } from './constructs/release-trigger';
import { TerraformRunner } from './constructs/terraform-runner';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { stateMachineName, Workflow } from './constructs/workflow';
import { principalArnPatterns } from '../lambdas/shared/domain/approvers';
import { DECISION_PARTITION_PREFIX } from '../lambdas/shared/domain/decision';
import { TRIGGER_PARTITION_PREFIX } from '../lambdas/shared/domain/release-trigger';
import { resolveBackend } from '../lambdas/shared/domain/workspace';

export interface GatewayDeployerProps {
  /**
   * The gateway config: as parsed by loadGatewayConfig, or as plain data (the YAML's shape), which is validated here
   * with the same messages `cdk synth` gives for a config file.
   */
  readonly config: GatewayConfig | GatewayConfigInput;
}

/**
 * The deployer for one Compute Gateway: storage, Terraform runner, handlers and the GatewayDeployment workflow. A
 * construct, so a platform team can put it in its own CDK app, Stack or Stage (GatewayDeployerStack is the thin
 * wrapper this repository deploys). It sets the CDK feature flags it was built and tested with on its own scope, so
 * it behaves the same whatever the surrounding app's cdk.json says.
 */
export class GatewayDeployer extends Construct {
  readonly config: GatewayConfig;
  readonly artifacts: Artifacts;
  readonly notifications: Notifications;
  readonly terraform: TerraformRunner;
  readonly workflow: Workflow;
  readonly approverPolicy: iam.ManagedPolicy;
  /** The operator CLI's reads and starts; attach to operators. */
  readonly operatorPolicy: iam.ManagedPolicy;
  /** s3:PutObject under the releases prefix with the key; attach to releaseUploaders. */
  readonly uploaderPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: GatewayDeployerProps) {
    super(scope, id);
    // Context can only be set before the first child: every currently recommended flag, for everything below.
    for (const [flag, value] of Object.entries(cxapi.CURRENTLY_RECOMMENDED_FLAGS)) this.node.setContext(flag, value);
    const config = parseGatewayConfig(props.config);
    checkKnownRegions(config, 'the GatewayDeployer config');
    this.config = config;
    const stack = Stack.of(this);

    this.artifacts = new Artifacts(this, 'Artifacts');
    const { artifactsBucket, stateBucket, table, key } = this.artifacts;
    this.notifications = new Notifications(this, 'Notifications', { key, ...config.notifications });
    const valuesSecret = secretsmanager.Secret.fromSecretNameV2(this, 'ValuesSecret', config.valuesSecretName);
    const valuesSecretKey = config.valuesSecretKmsKeyArn ? kms.Key.fromKeyArn(this, 'ValuesSecretKey', config.valuesSecretKmsKeyArn) : undefined;
    this.terraform = new TerraformRunner(this, 'Terraform', {
      artifactsBucket,
      stateBucket,
      key,
      lockTable: table,
      valuesSecret,
      ...(valuesSecretKey ? { valuesSecretKey } : {}),
      terraformVersion: config.terraform.version,
      bundleLimits: config.bundle,
      dataBuckets: config.module.additional_data_buckets,
      valuesSecretKeys: config.valuesSecretKeys,
      verify: config.verify,
      managedPolicyArns: config.terraform.managedPolicyArns,
      planManagedPolicyArns: config.terraform.planManagedPolicyArns,
      ...(config.backend.bucket || config.backend.dynamodbTable
        ? {
            externalBackend: {
              ...(config.backend.bucket ? { bucket: config.backend.bucket } : {}),
              ...(config.backend.dynamodbTable ? { dynamodbTable: config.backend.dynamodbTable } : {}),
              region: config.backend.region ?? config.target.region,
            },
          }
        : {}),
      ...(config.terraform.permissionsBoundaryArn ? { permissionsBoundaryArn: config.terraform.permissionsBoundaryArn } : {}),
    });

    const acquireLock = new DeployerFunction(this, 'AcquireLock', {
      handlerDir: 'acquire-lock',
      description: 'One run per gateway: takes the lock item, or takes over a lock whose execution has stopped',
      environment: { DEPLOYMENTS_TABLE: table.tableName },
    }).function;
    table.grant(acquireLock, 'dynamodb:GetItem', 'dynamodb:PutItem');
    key.grant(acquireLock, 'kms:GenerateDataKey', 'kms:Decrypt');
    // Only this gateway's executions; the ARN is spelled out because the state machine depends on this function.
    acquireLock.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution'],
        resources: [stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName(config.gatewayName)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    acknowledge(
      acquireLock.role!,
      'AwsSolutions-IAM5',
      "The executions of this stack's state machine, by its fixed name (execution:GatewayDeployment-<gateway>:*): the " +
        'lock holder is some earlier execution of it, and DescribeExecution (read-only) tells whether it still runs.',
      [nagResource(this, stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName(config.gatewayName)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }))],
    );
    // Object keys carry the gateway and the run, unknown at deploy time: a fixed prefix of the artifacts bucket is the narrowest scope.
    const acknowledgeObjectPrefixes = (fn: { role?: iam.IRole }, what: string, ...keys: string[]) =>
      acknowledge(
        fn.role!,
        'AwsSolutions-IAM5',
        `${what}: object keys under a fixed prefix of this stack's artifacts bucket, named per gateway and run (unknown at deploy time); read-only unless stated.`,
        keys.map((key) => nagResource(this, artifactsBucket.arnForObjects(key))),
      );

    const preflight = new DeployerFunction(this, 'Preflight', {
      handlerDir: 'preflight',
      description: 'Checks the execution input, bundle, values secret, caller identity and version before any Terraform run',
      // The bundle is read into memory (at most bundle.maxBytes, 50 MiB by default) to hash and list it; its entries
      // are inflated one at a time and only counted (about 35 MB more at the 256 MiB unpacked limit).
      memorySize: 1024,
      timeout: Duration.minutes(2),
      environment: { ARTIFACTS_BUCKET: artifactsBucket.bucketName, DEPLOYMENTS_TABLE: table.tableName },
    }).function;
    // Exact actions, no wildcards: read bundles and the customized gateway.tf, tell "missing" from "forbidden".
    preflight.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [artifactsBucket.arnForObjects(`${config.bundle.releasesPrefix}*`), ...(config.customGatewayTfKey ? [artifactsBucket.arnForObjects(config.customGatewayTfKey)] : [])],
      }),
    );
    acknowledgeObjectPrefixes(preflight, 'The bundles gateway-<version>.zip under the releases prefix', `${config.bundle.releasesPrefix}*`);
    preflight.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [artifactsBucket.bucketArn] }));
    key.grantDecrypt(preflight);
    valuesSecret.grantRead(preflight);
    valuesSecretKey?.grantDecrypt(preflight);
    table.grant(preflight, 'dynamodb:GetItem');
    if (config.module.create_vpc === false) {
      // The free addresses of node_subnet_ids. DescribeSubnets supports no resource-level permissions: "*" is
      // the only resource it accepts; the action is exact and read-only.
      preflight.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeSubnets'], resources: ['*'] }));
      acknowledge(
        preflight.role!,
        'AwsSolutions-IAM5',
        'ec2:DescribeSubnets (create_vpc = false: free addresses of node_subnet_ids) supports no resource-level permissions; it is read-only.',
        ['Resource::*'],
      );
    }

    const renderWorkspace = new DeployerFunction(this, 'RenderWorkspace', {
      handlerDir: 'render-workspace',
      description: "Writes the HOWTO's deployment folder (gateway, providers, backend, variables) as Terraform JSON to S3",
      environment: {
        ARTIFACTS_BUCKET: artifactsBucket.bucketName,
        STATE_BUCKET: stateBucket.bucketName,
        STATE_KMS_KEY_ARN: key.keyArn,
        DEPLOYER_ROLE_ARN: this.terraform.role.roleArn,
        PLAN_ROLE_ARN: this.terraform.planRole.roleArn,
      },
    }).function;
    renderWorkspace.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [artifactsBucket.arnForObjects('workspaces/*')] }));
    acknowledgeObjectPrefixes(renderWorkspace, 'Writes the rendered workspace, workspaces/<gateway>/<run>/ (s3:PutObject only)', 'workspaces/*');
    if (config.customGatewayTfKey) {
      renderWorkspace.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [artifactsBucket.arnForObjects(config.customGatewayTfKey)] }),
      );
    }
    // Writing SSE-KMS objects needs a data key; exact actions rather than grantEncryptDecrypt's wildcards.
    key.grant(renderWorkspace, 'kms:GenerateDataKey', 'kms:Decrypt');

    const analyzePlan = new DeployerFunction(this, 'AnalyzePlan', {
      handlerDir: 'analyze-plan',
      description: 'Summarizes the redacted plan, judges its risk and decides who approves it',
      environment: { ARTIFACTS_BUCKET: artifactsBucket.bucketName },
    }).function;
    analyzePlan.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        // Plans, and the list of module.vpc addresses a detach-vpc run asks approval for.
        resources: [artifactsBucket.arnForObjects('plans/*'), artifactsBucket.arnForObjects('reports/*/detach-vpc.json')],
      }),
    );
    acknowledgeObjectPrefixes(analyzePlan, "Reads the redacted plan, plans/<gateway>/<run>/, and detach-vpc's address list", 'plans/*', 'reports/*/detach-vpc.json');
    key.grantDecrypt(analyzePlan);

    const requestApproval = new DeployerFunction(this, 'RequestApproval', {
      handlerDir: 'request-approval',
      description: 'Stores the task token of a plan waiting for approval and asks the operators',
      environment: {
        ARTIFACTS_BUCKET: artifactsBucket.bucketName,
        DEPLOYMENTS_TABLE: table.tableName,
        OPERATORS_TOPIC_ARN: this.notifications.operatorsTopic.topicArn,
        SUPPORT_TOPIC_ARN: this.notifications.supportTopic.topicArn,
        STACK_NAME: stack.stackName,
      },
    }).function;
    // Pending approvals only (EXECUTION#<name>/APPROVAL#<round>): the round, its task token and digest.
    requestApproval.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EXECUTION#*'] } },
      }),
    );
    requestApproval.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.notifications.operatorsTopic.topicArn] }));
    // The run's notices say when an e-mail subscription is not confirmed (domain/subscriptions.ts): read-only, these two topics.
    const grantListSubscriptions = (fn: lambda.IFunction) =>
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['sns:ListSubscriptionsByTopic'],
          resources: [this.notifications.supportTopic.topicArn, this.notifications.operatorsTopic.topicArn],
        }),
      );
    grantListSubscriptions(requestApproval);
    key.grant(requestApproval, 'kms:GenerateDataKey', 'kms:Decrypt');

    // The approve → apply contract (README, Security): the approval function is the one writer of decisions; the
    // check after every approval wait reads them. Neither trusts the task token or a name the caller typed.
    const decideApproval = new DeployerFunction(this, 'DecideApproval', {
      handlerDir: 'decide-approval',
      description: 'The one way to approve or reject a plan: verifies the caller with STS, checks approval.approvers, records the decision once, wakes the run',
      environment: {
        DEPLOYMENTS_TABLE: table.tableName,
        GATEWAY_NAME: config.gatewayName,
        APPROVERS: JSON.stringify(config.approval.approvers),
      },
    }).function;
    decideApproval.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:GetItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EXECUTION#*', `${DECISION_PARTITION_PREFIX}*`] } },
      }),
    );
    decideApproval.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${DECISION_PARTITION_PREFIX}*`] } },
      }),
    );
    key.grant(decideApproval, 'kms:GenerateDataKey', 'kms:Decrypt');
    // SendTaskSuccess/Failure support no resource-level permissions: "*" is the only resource they accept.
    decideApproval.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'] }));
    acknowledge(
      decideApproval.role!,
      'AwsSolutions-IAM5',
      'states:SendTaskSuccess and states:SendTaskFailure support no resource-level permissions ("*" is the only resource). ' +
        'A task token approves nothing by itself: CheckApproval continues a run only for a decision this function recorded.',
      ['Resource::*'],
    );
    const checkApproval = new DeployerFunction(this, 'CheckApproval', {
      handlerDir: 'check-approval',
      description: 'After every approval wait: lets the run go on only for a recorded approval of this round and digest by an approver',
      environment: { DEPLOYMENTS_TABLE: table.tableName },
    }).function;
    checkApproval.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${DECISION_PARTITION_PREFIX}*`] } },
      }),
    );
    key.grantDecrypt(checkApproval);

    const evaluateVerification = new DeployerFunction(this, 'EvaluateVerification', {
      handlerDir: 'evaluate-verification',
      description: 'Compares the running agent version with the expected one; fails on mismatch, rollout or connectivity',
      environment: { ARTIFACTS_BUCKET: artifactsBucket.bucketName },
    }).function;

    const recordDeployment = new DeployerFunction(this, 'RecordDeployment', {
      handlerDir: 'record-deployment',
      description: 'Writes the deployment history item and the last deployed version',
      environment: { DEPLOYMENTS_TABLE: table.tableName },
    }).function;
    table.grant(recordDeployment, 'dynamodb:PutItem');
    key.grant(recordDeployment, 'kms:GenerateDataKey', 'kms:Decrypt');

    const remediate = new DeployerFunction(this, 'Remediate', {
      handlerDir: 'remediate',
      description: 'Recognizes the Helm name-reuse failure and words the uninstall approval from the release inspection',
      environment: { ARTIFACTS_BUCKET: artifactsBucket.bucketName },
    }).function;
    remediate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [artifactsBucket.arnForObjects('reports/*')] }));
    acknowledgeObjectPrefixes(remediate, 'Reads the build reports, reports/<gateway>/<run>/', 'reports/*');
    // Without it S3 answers 403 instead of 404 for a report a failed build never wrote.
    remediate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [artifactsBucket.bucketArn] }));
    key.grantDecrypt(remediate);

    // Where a failed step's log is, for the failure notice.
    const stepLogGroups = Object.fromEntries(
      ['AcquireLock', 'Preflight', 'RenderWorkspace', 'AnalyzePlan', 'RequestApproval', 'EvaluateVerification', 'RecordDeployment'].map((id) => [
        id,
        (this.node.findChild(id) as DeployerFunction).logGroup.logGroupName,
      ]),
    );
    // Where a killed or stopped Terraform build leaves its state lock: Notify (a build that timed out) and RunEnded
    // (a run stopped or timed out) report it with the command to remove it (domain/run-end.ts).
    const backend = resolveBackend(config, stateBucket.bucketName);
    const terraformProjects = [this.terraform.planProject, this.terraform.applyProject, this.terraform.verifyProject];
    const stateBucketArn = config.backend.bucket ? stack.formatArn({ service: 's3', region: '', account: '', resource: config.backend.bucket }) : stateBucket.bucketArn;
    /** Reading Terraform's lock, never removing it: the notice gives operators the command. */
    const grantTerraformLockRead = (fn: lambda.Function) => {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${stateBucketArn}/${backend.key}.tflock`] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [stateBucketArn] }));
      if (backend.dynamodbTable) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [stack.formatArn({ service: 'dynamodb', region: backend.region, resource: 'table', resourceName: backend.dynamodbTable })] }),
        );
      }
    };
    const notifyEnvironment = {
      TF_STATE_BUCKET: backend.bucket,
      TF_STATE_KEY: backend.key,
      TF_USE_LOCKFILE: String(backend.useLockfile),
      ...(backend.dynamodbTable ? { TF_LOCK_TABLE: backend.dynamodbTable } : {}),
      TERRAFORM_PROJECTS: Fn.join(',', terraformProjects.map((p) => p.projectName)),
      ARTIFACTS_BUCKET: artifactsBucket.bucketName,
      DEPLOYMENTS_TABLE: table.tableName,
      SUPPORT_TOPIC_ARN: this.notifications.supportTopic.topicArn,
      OPERATORS_TOPIC_ARN: this.notifications.operatorsTopic.topicArn,
      ACCOUNT_ID: stack.account,
      STATE_BUCKET: stateBucket.bucketName,
      STEP_LOG_GROUPS: stack.toJsonString(stepLogGroups),
    };
    const notify = new DeployerFunction(this, 'Notify', {
      handlerDir: 'notify',
      description: 'Completion report to support and operators; failure report to operators; records failed runs',
      // The addresses whose subscriptions the success notice checks (not RunEnded's: it sends no wrap-up).
      environment: {
        ...notifyEnvironment,
        NOTIFICATION_EMAILS: JSON.stringify({ support: config.notifications.supportEmails, operators: config.notifications.operatorEmails }),
      },
    }).function;
    /** What a function needs to tell and record a run: Notify, and RunEnded for the ends no Catch sees. */
    const grantNotify = (fn: lambda.Function) => {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [artifactsBucket.arnForObjects('reports/*')] }));
      acknowledgeObjectPrefixes(fn, 'Reads the build reports, reports/<gateway>/<run>/', 'reports/*');
      // Without it S3 answers 403 instead of 404 for a report a failed build never wrote.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [artifactsBucket.bucketArn] }));
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.notifications.supportTopic.topicArn, this.notifications.operatorsTopic.topicArn] }),
      );
      table.grant(fn, 'dynamodb:PutItem');
      key.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
    };
    grantNotify(notify);
    grantTerraformLockRead(notify);
    grantListSubscriptions(notify);
    // A run with nothing to apply: the DAL bucket policies are in its Plan's outputs.json (no sensitive output, no
    // value of the values secret). Not the rest of plans/: the plan binary holds the values in clear.
    notify.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [artifactsBucket.arnForObjects('plans/*/outputs.json')] }));
    acknowledgeObjectPrefixes(notify, "Reads a plan's non-sensitive outputs, plans/<gateway>/<run>/outputs.json", 'plans/*/outputs.json');

    this.workflow = new Workflow(this, 'Workflow', {
      config,
      acquireLock,
      remediate,
      table,
      preflight,
      renderWorkspace,
      analyzePlan,
      requestApproval,
      checkApproval,
      evaluateVerification,
      recordDeployment,
      notify,
      planProject: this.terraform.planProject,
      applyProject: this.terraform.applyProject,
      verifyProject: this.terraform.verifyProject,
    });
    const machineRole = this.workflow.stateMachine.role;
    // ReleaseLock deletes the lock item itself, and DynamoDB calls KMS as the caller for a table encrypted with a
    // customer-managed key: without this every run would end with lockNotReleased.
    key.grantDecrypt(machineRole);
    acknowledge(
      machineRole,
      'AwsSolutions-IAM5',
      'Added by CDK for the state machine\'s logging (level ALL) and tracing: the CloudWatch Logs vended-delivery actions ' +
        '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, ' +
        'PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray (PutTraceSegments, ' +
        'PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no resource-level permissions.',
      ['Resource::*'],
    );
    acknowledge(
      machineRole,
      'AwsSolutions-IAM5',
      "Added by CDK's LambdaInvoke tasks: lambda:InvokeFunction on the versions and aliases (<arn>:*) of this stack's own " +
        'functions, beside the unqualified ARNs; no other function.',
      [acquireLock, remediate, preflight, renderWorkspace, analyzePlan, requestApproval, checkApproval, evaluateVerification, recordDeployment, notify].map(
        (fn) => `${nagResource(this, fn.functionArn)}:*`,
      ),
    );

    // Ends no Catch sees (timed out, stopped, failed outside the failure path): recorded, told, lock released, and a
    // Terraform state lock left by the stopped build reported (domain/run-end.ts).
    const runEnded = new DeployerFunction(this, 'RunEnded', {
      handlerDir: 'run-ended',
      description: 'Records, tells and unlocks a run that timed out, was stopped, or failed outside its own error handling',
      environment: {
        ...notifyEnvironment,
        GATEWAY: config.gatewayName,
        RUN_TIMEOUT_HOURS: String(this.workflow.timeoutHours),
      },
    }).function;
    grantNotify(runEnded);
    table.grant(runEnded, 'dynamodb:DeleteItem');
    const executions = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName(config.gatewayName)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    runEnded.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:GetExecutionHistory'], resources: [executions] }));
    acknowledge(runEnded.role!, 'AwsSolutions-IAM5', "The executions of this stack's state machine, by its fixed name: the one that ended is read, read-only.", [nagResource(this, executions)]);
    grantTerraformLockRead(runEnded);
    new events.Rule(this, 'RunEndedRule', {
      description: `Compute Gateway ${config.gatewayName}: executions that timed out, were stopped or failed, to RunEnded`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [this.workflow.stateMachine.stateMachineArn], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
      targets: [new targets.LambdaFunction(runEnded, { retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    if (config.drift) {
      new events.Rule(this, 'DriftSchedule', {
        description: `Plan-only drift check of Compute Gateway ${config.gatewayName}; operators hear of a plan that is not empty`,
        schedule: events.Schedule.expression(config.drift.schedule),
        targets: [
          new targets.SfnStateMachine(this.workflow.stateMachine, {
            input: events.RuleTargetInput.fromObject({ operation: 'drift-check', trigger: 'schedule', reason: `drift schedule ${config.drift.schedule}` }),
            retryAttempts: 3,
          }),
        ],
      });
    }

    const releaseTrigger = new ReleaseTrigger(this, 'ReleaseTrigger', {
      gatewayName: config.gatewayName,
      artifactsBucket,
      releasesPrefix: config.bundle.releasesPrefix,
      policy: config.releaseTrigger,
      stateMachine: this.workflow.stateMachine,
      table,
      operatorsTopic: this.notifications.operatorsTopic,
      key,
    });

    // Reaching the approval function: attach this policy to the operators who may approve. It is not what makes
    // them approvers (approval.approvers is): the function verifies every caller with STS and checks the list.
    this.approverPolicy = new iam.ManagedPolicy(this, 'ApproverPolicy', {
      description: `Approve or reject Compute Gateway ${config.gatewayName} plans with the deployer CLI`,
      statements: [
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [decideApproval.functionArn] }),
        new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [stack.stackId] }),
      ],
    });

    // What the operator CLI reads and does (start, status, history, dal-policy, subscriptions), and what uploaders
    // need: the table, the reports and the bundles are encrypted with the stack's key, which DynamoDB and S3 use as
    // the caller, so kms:Decrypt (and GenerateDataKey for an upload) are part of it.
    const machineExecutions = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName(config.gatewayName)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const topics = [this.notifications.supportTopic.topicArn, this.notifications.operatorsTopic.topicArn];
    this.operatorPolicy = new iam.ManagedPolicy(this, 'OperatorPolicy', {
      description: `Run the deployer CLI for Compute Gateway ${config.gatewayName}: start, status, history, dal-policy, subscriptions`,
      statements: [
        new iam.PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [stack.stackId] }),
        new iam.PolicyStatement({ actions: ['states:StartExecution', 'states:ListExecutions'], resources: [this.workflow.stateMachine.stateMachineArn] }),
        new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:GetExecutionHistory'], resources: [machineExecutions] }),
        new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [table.tableArn] }),
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [artifactsBucket.arnForObjects('reports/*'), artifactsBucket.arnForObjects('plans/*/outputs.json')] }),
        new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn] }),
        new iam.PolicyStatement({ actions: ['sns:ListSubscriptionsByTopic', 'sns:Subscribe'], resources: topics }),
      ],
    });
    this.uploaderPolicy = new iam.ManagedPolicy(this, 'ReleaseUploaderPolicy', {
      description: `Upload gateway-<version>.zip bundles of Compute Gateway ${config.gatewayName} (the bucket policy also requires releaseUploaders)`,
      statements: [
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [artifactsBucket.arnForObjects(`${config.bundle.releasesPrefix}*`)] }),
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn] }),
      ],
    });
    acknowledge(
      this.operatorPolicy,
      'AwsSolutions-IAM5',
      "Operators read this gateway's executions (by the state machine's fixed name), the build reports (reports/<gateway>/<run>/) " +
        "and the plans' outputs (plans/<gateway>/<run>/outputs.json, never the plan binary): names per run, unknown at deploy time.",
      [nagResource(this, machineExecutions), nagResource(this, artifactsBucket.arnForObjects('reports/*')), nagResource(this, artifactsBucket.arnForObjects('plans/*/outputs.json'))],
    );
    acknowledge(
      this.uploaderPolicy,
      'AwsSolutions-IAM5',
      'Bundles are uploaded under the releases prefix as gateway-<version>.zip; the version is unknown at deploy time.',
      [nagResource(this, artifactsBucket.arnForObjects(`${config.bundle.releasesPrefix}*`))],
    );

    // Decisions and trigger proofs have one writer each; an explicit deny keeps every other principal of the
    // account (administrators included, short of changing this policy) from writing or deleting them.
    const writes = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
    const onlyWriter = (sid: string, prefix: string, role: iam.IRole) =>
      table.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: writes,
          resources: ['*'],
          conditions: {
            'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [`${prefix}*`] },
            ArnNotEquals: { 'aws:PrincipalArn': role.roleArn },
          },
        }),
      );
    onlyWriter('OnlyTheApprovalFunctionWritesDecisions', DECISION_PARTITION_PREFIX, decideApproval.role!);
    onlyWriter('OnlyTheReleaseTriggerWritesTriggerProofs', TRIGGER_PARTITION_PREFIX, releaseTrigger.function.role);

    // Who may write each prefix of the artifacts bucket. A bundle under releases/ starts an upgrade by itself and
    // every object of a run's workspace becomes root Terraform, so everyone else is denied writes and deletes.
    const objectWrites = ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'];
    const onlyWriters = (sid: string, prefixes: string[], principalArns: string[]) =>
      artifactsBucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: objectWrites,
          resources: prefixes.map((prefix) => artifactsBucket.arnForObjects(`${prefix}*`)),
          conditions: { ArnNotLike: { 'aws:PrincipalArn': principalArns } },
        }),
      );
    onlyWriters('OnlyReleaseUploadersWriteBundles', [config.bundle.releasesPrefix], principalArnPatterns(config.releaseUploaders ?? config.approval.approvers));
    onlyWriters('OnlyRenderWorkspaceWritesWorkspaces', ['workspaces/'], [renderWorkspace.role!.roleArn]);
    onlyWriters('OnlyPlanWritesPlans', ['plans/'], [this.terraform.planRole.roleArn]);
    onlyWriters('OnlyTerraformWritesReports', ['reports/', 'codebuild-cache/'], [this.terraform.planRole.roleArn, this.terraform.role.roleArn]);

    // S3 event notifications (EventBridge) are configured by CDK's BucketNotificationsHandler singleton.
    const notificationsHandler = stack.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
    if (notificationsHandler) {
      acknowledge(
        notificationsHandler.node.findChild('Role'),
        'AwsSolutions-IAM4',
        "CDK's own BucketNotificationsHandler (a deploy-time custom resource that turns on the artifacts bucket's " +
          'EventBridge notifications) uses AWSLambdaBasicExecutionRole for its logs; CDK offers no way to change it, and ' +
          'it runs only during CloudFormation deployments.',
        [nagPolicy(this, `arn:${Aws.PARTITION}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`)],
      );
    }

    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn, description: 'Start a deployment here' });
    new CfnOutput(this, 'ArtifactsBucketName', { value: artifactsBucket.bucketName, description: `Upload gateway-<version>.zip under ${config.bundle.releasesPrefix}` });
    new CfnOutput(this, 'StateBucketName', { value: stateBucket.bucketName });
    new CfnOutput(this, 'DeploymentsTableName', { value: table.tableName });
    new CfnOutput(this, 'OperatorsTopicArn', { value: this.notifications.operatorsTopic.topicArn });
    new CfnOutput(this, 'SupportTopicArn', { value: this.notifications.supportTopic.topicArn });
    new CfnOutput(this, 'ApproverPolicyArn', { value: this.approverPolicy.managedPolicyArn, description: 'Attach to the principals of approval.approvers' });
    new CfnOutput(this, 'OperatorPolicyArn', { value: this.operatorPolicy.managedPolicyArn, description: 'Attach to operators who run the deployer CLI (start, status, history, dal-policy, subscriptions)' });
    new CfnOutput(this, 'ReleaseUploaderPolicyArn', { value: this.uploaderPolicy.managedPolicyArn, description: 'Attach to the principals of releaseUploaders (default: the approvers)' });
    new CfnOutput(this, 'ApprovalFunctionName', { value: decideApproval.functionName, description: 'The deployer CLI approves and rejects plans through it' });
    new CfnOutput(this, 'TerraformRoleArn', { value: this.terraform.role.roleArn, description: 'Apply and Verify; admitted to the cluster via aws_auth_roles (system:masters)' });
    new CfnOutput(this, 'PlanRoleArn', { value: this.terraform.planRole.roleArn, description: 'Plan, drift checks, list-vpc: read-only; admitted to the cluster as group gateway-deployer:plan-readers' });
  }
}
