import { Match } from 'aws-cdk-lib/assertions';
import { definitionOf, synth } from './support';

const { template, stack } = synth();

describe('storage', () => {
  test('artifacts and state buckets are KMS-encrypted, versioned, private and retained', () => {
    const buckets = template.findResources('AWS::S3::Bucket', {
      Properties: { BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } },
    });
    expect(Object.keys(buckets)).toHaveLength(2);
    for (const bucket of Object.values(buckets)) {
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.LoggingConfiguration).toBeDefined();
    }
  });

  test('the artifacts bucket sends EventBridge notifications for the release trigger', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: stack.getLogicalId(stack.artifacts.artifactsBucket.node.defaultChild as never) },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  test('every bucket refuses requests without TLS', () => {
    const policies = template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(3);
    for (const policy of Object.values(policies)) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      );
    }
  });

  test('the KMS key rotates', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('the deployments table keys on pk/sk, uses the KMS key and point-in-time recovery', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    });
  });
});

describe('notifications', () => {
  test('operators and support topics are encrypted with the key', () => {
    const topics = template.findResources('AWS::SNS::Topic');
    expect(Object.keys(topics)).toHaveLength(2);
    for (const topic of Object.values(topics)) expect(topic.Properties.KmsMasterKeyId).toBeDefined();
  });

  test("support is subscribed by e-mail, as the seed's wrap-up asks", () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'support@apheris.com' });
  });

  test('operator addresses from the config are subscribed', () => {
    const t = synth({ notifications: { operatorEmails: ['ops@example.com'] } }).template;
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });
});

describe('lambdas', () => {
  const functions = template.findResources('AWS::Lambda::Function');

  test('every handler runs on Node 22, arm64, with tracing and a retained log group', () => {
    const handlers = Object.values(functions).filter((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME);
    expect(handlers.map((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual(
      ['analyze-plan', 'evaluate-verification', 'notify', 'preflight', 'record-deployment', 'release-trigger', 'render-workspace', 'request-approval'].map(
        (h) => `gateway-deployer-${h}`,
      ),
    );
    for (const fn of handlers) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('RenderWorkspace learns the Terraform role, so it can admit it through aws_auth_roles', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DEPLOYER_ROLE_ARN: { 'Fn::GetAtt': [stack.getLogicalId(stack.terraform.role.node.defaultChild as never), 'Arn'] } }) },
    });
  });

  test('no Lambda role policy has a wildcard action', () => {
    const lambdaRoles = new Set(
      Object.values(functions).map((f) => (f.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]),
    );
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as Array<{ Ref: string }>).some((r) => lambdaRoles.has(r.Ref)),
    );
    expect(policies.length).toBeGreaterThanOrEqual(2);
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(actions.filter((a: string) => a.includes('*'))).toEqual([]);
  });

  test('Preflight may read bundles and the values secret but write nothing', () => {
    const preflightRole = stack.getLogicalId(stack.workflow.node.scope!.node.findChild('Preflight').node.findChild('Function').node.findChild('ServiceRole').node.defaultChild as never);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === preflightRole))!;
    const actions: string[] = policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket', 'secretsmanager:GetSecretValue', 'dynamodb:GetItem', 'kms:Decrypt']));
    const writes = actions.filter((a) => !a.startsWith('xray:') && /Put|Delete|Update|Write|Encrypt$|GenerateDataKey/.test(a));
    expect(writes).toEqual([]);
  });

  test("a customer-managed key of the values secret is decryptable by Preflight", () => {
    const keyArn = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const t = synth({ valuesSecretKmsKeyArn: keyArn }).template;
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Resource: Match.arrayWith([keyArn]) })]) },
    });
  });
});

describe('Terraform runner', () => {
  const projects = template.findResources('AWS::CodeBuild::Project');

  test('Plan, Apply and Verify projects: the shared role, KMS, an S3 cache, the pinned Terraform, the helpers as S3 source', () => {
    expect(Object.keys(projects)).toHaveLength(3);
    for (const project of Object.values(projects)) {
      expect(project.Properties).toMatchObject({
        EncryptionKey: expect.anything(),
        Cache: expect.objectContaining({ Type: 'S3' }),
        Source: expect.objectContaining({ Type: 'S3' }),
        ServiceRole: { 'Fn::GetAtt': [stack.getLogicalId(stack.terraform.role.node.defaultChild as never), 'Arn'] },
      });
      expect(project.Properties.Environment.EnvironmentVariables).toContainEqual({ Name: 'TF_VERSION', Type: 'PLAINTEXT', Value: '1.11.4' });
    }
  });

  test.each([
    ['terraform-step.js" plan', 'PLAN_JSON_KEY'],
    ['terraform-step.js" apply', 'APPLY_REPORT_KEY'],
    ['verify-step.js"', 'AGENT_VERSION'],
  ])('the buildspec running %s is the file in buildspecs/, exporting %s', (command, exported) => {
    const specs = Object.values(projects).map((p) => JSON.parse(p.Properties.Source.BuildSpec));
    const spec = specs.find((sp) => sp.phases.build.commands.some((c: string) => c.includes(command)));
    expect(spec).toBeDefined();
    expect(spec.env['exported-variables']).toContain(exported);
  });

  test('Verify pins kubectl and helm and takes its timeouts from the config', () => {
    const verify = Object.values(projects).find((p) => String(p.Properties.Source.BuildSpec).includes('verify-step.js'))!;
    expect(verify.Properties.Environment.EnvironmentVariables).toEqual(
      expect.arrayContaining([
        { Name: 'KUBECTL_VERSION', Type: 'PLAINTEXT', Value: '1.32.4' },
        { Name: 'HELM_VERSION', Type: 'PLAINTEXT', Value: '3.17.3' },
        { Name: 'ROLLOUT_TIMEOUT_SECONDS', Type: 'PLAINTEXT', Value: '600' },
        { Name: 'HELM_TEST_TIMEOUT', Type: 'PLAINTEXT', Value: '10m' },
      ]),
    );
  });

  test('the Terraform role gets AdministratorAccess by default, or the configured policies and boundary', () => {
    const roleId = stack.getLogicalId(stack.terraform.role.node.defaultChild as never);
    expect(template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toEqual(['arn:aws:iam::aws:policy/AdministratorAccess']);
    const custom = synth({ terraform: { managedPolicyArns: ['arn:aws:iam::123456789012:policy/gateway-terraform'], permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/boundary' } });
    const customRole = custom.template.toJSON().Resources[custom.stack.getLogicalId(custom.stack.terraform.role.node.defaultChild as never)];
    expect(customRole.Properties).toMatchObject({
      ManagedPolicyArns: ['arn:aws:iam::123456789012:policy/gateway-terraform'],
      PermissionsBoundary: 'arn:aws:iam::123456789012:policy/boundary',
    });
  });

  test('the Terraform role may read the values secret and write only plans/ and reports/ in the artifacts bucket', () => {
    const roleId = stack.getLogicalId(stack.terraform.role.node.defaultChild as never);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))!;
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;
    const puts = statements.filter((st) => [st.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(puts)).toContain('/plans/*');
    expect(JSON.stringify(puts)).toContain('/reports/*');
    expect(JSON.stringify(puts)).not.toContain('/releases/');
    expect(statements.some((st) => [st.Action].flat().includes('secretsmanager:GetSecretValue'))).toBe(true);
  });
});

describe('release trigger', () => {
  test('an EventBridge rule sends Object Created events under releases/ of the artifacts bucket to the trigger Lambda', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: stack.getLogicalId(stack.artifacts.artifactsBucket.node.defaultChild as never) }] },
          object: { key: [{ prefix: 'releases/' }] },
        },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3 } })],
    });
  });

  test('the trigger may start executions of this state machine only', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never) } }),
        ]),
      },
    });
  });
});

describe('approval permission', () => {
  test('an approver policy is an output, scoped to the table items of executions', () => {
    template.hasOutput('ApproverPolicyArn', {});
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['states:SendTaskFailure', 'states:SendTaskSuccess'], Resource: '*' }),
          Match.objectLike({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['EXECUTION#*'] } } }),
        ]),
      },
    });
  });
});

describe('state machine', () => {
  const def = definitionOf(template);

  test('is Standard, logs ALL with execution data, traces, and has a timeout', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'GatewayDeployment-gateway',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
    });
    expect(def.TimeoutSeconds).toBe(48 * 3600);
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  test('runs ReceiveRequest → Preflight → RenderWorkspace → Plan → AnalyzePlan → ApprovalGate', () => {
    expect(def.StartAt).toBe('ReceiveRequest');
    expect(def.States.ReceiveRequest.Next).toBe('Preflight');
    expect(def.States.Preflight.Next).toBe('RenderWorkspace');
    expect(def.States.RenderWorkspace.Next).toBe('Plan');
    expect(def.States.Plan.Next).toBe('AnalyzePlan');
    expect(def.States.AnalyzePlan.Next).toBe('ApprovalGate');
  });

  test('the gate: no changes ends the run, auto-approve goes straight to Apply, otherwise an operator is asked', () => {
    const gate = def.States.ApprovalGate as unknown as { Type: string; Choices: Array<{ Variable: string; StringEquals: string; Next: string }>; Default: string };
    expect(gate.Type).toBe('Choice');
    expect(gate.Choices).toEqual([
      { Variable: '$.analysis.decision', StringEquals: 'no-changes', Next: 'NothingToApply' },
      { Variable: '$.analysis.decision', StringEquals: 'auto-approve', Next: 'AutoApprove' },
    ]);
    expect(gate.Default).toBe('RequestApproval');
    expect(def.States.AutoApprove.Next).toBe('Apply');
    expect(def.States.RequestApproval.Next).toBe('Apply');
  });

  test('after Apply, and when there was nothing to apply: Verify → EvaluateVerification → RecordDeployment → NotifySuccess → Deployed', () => {
    expect(def.States.Apply.Next).toBe('Verify');
    expect(def.States.NothingToApply).toMatchObject({ Type: 'Pass', Next: 'Verify' });
    expect(def.States.Verify.Next).toBe('EvaluateVerification');
    expect(def.States.EvaluateVerification.Next).toBe('RecordDeployment');
    expect(def.States.RecordDeployment.Next).toBe('NotifySuccess');
    expect(def.States.NotifySuccess.Next).toBe('Deployed');
    expect(def.States.Deployed.Type).toBe('Succeed');
  });

  test.each(['Verify', 'EvaluateVerification', 'RecordDeployment', 'NotifySuccess'])('%s notifies operators when it fails', (name) => {
    expect(def.States[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' }]);
  });

  test('RequestApproval waits for a task token, with the configured timeout, and names a timeout', () => {
    const state = def.States.RequestApproval;
    expect(state.Resource).toMatch(/:states:::lambda:invoke\.waitForTaskToken$/);
    expect(state.TimeoutSeconds).toBe(24 * 3600);
    expect(state.Parameters).toMatchObject({ Payload: { 'taskToken.$': '$$.Task.Token', 'executionName.$': '$$.Execution.Name' } });
    expect(state.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], Next: 'ApprovalTimedOut', ResultPath: '$.error' },
      { ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' },
    ]);
    expect(def.States.ApprovalTimedOut).toMatchObject({ Type: 'Pass', Next: 'NotifyFailure', Parameters: { Error: 'ApprovalTimedOut' } });
  });

  test('the approval timeout comes from the config', () => {
    const t = synth({ approval: { timeoutHours: 4 } }).template;
    expect(definitionOf(t).States.RequestApproval.TimeoutSeconds).toBe(4 * 3600);
  });

  test.each(['Plan', 'Apply'])('%s runs its CodeBuild project synchronously with the run as overrides, keeping only the exported variables', (name) => {
    const state = def.States[name];
    expect(state.Resource).toMatch(/:states:::codebuild:startBuild\.sync$/);
    const overrides = (state.Parameters!.EnvironmentVariablesOverride as Array<{ Name: string; 'Value.$'?: string }>).map((o) => o.Name);
    expect(overrides).toEqual(expect.arrayContaining(['RUN_ID', 'WORKSPACE_PREFIX', 'BUNDLE_KEY', 'BUNDLE_VERSION_ID', 'BUNDLE_SHA256', 'VALUES_SECRET_ARN', 'VALUES_SECRET_VERSION_ID']));
    if (name === 'Apply') expect(overrides).toContain('PLAN_PREFIX');
    expect(state.ResultSelector).toEqual({ 'buildId.$': '$.Build.Id', 'exported.$': '$.Build.ExportedEnvironmentVariables' });
    // A failed build is never retried: that would apply twice.
    const retried = state.Retry!.flatMap((r) => r.ErrorEquals);
    expect(retried).not.toContain('States.TaskFailed');
    expect(retried).not.toContain('States.ALL');
    expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' }]);
  });

  test.each(['Preflight', 'RenderWorkspace', 'AnalyzePlan'])('%s retries transient errors and catches the rest into NotifyFailure', (name) => {
    const state = def.States[name];
    expect(state.Type).toBe('Task');
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'ThrottlingException']));
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
    expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' }]);
  });

  test('NotifyFailure hands the whole run state to the Notify Lambda and always ends in the DeploymentFailed Fail state', () => {
    const notify = def.States.NotifyFailure;
    expect(notify.Parameters).toMatchObject({ kind: 'failure', 'state.$': '$', 'executionArn.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime' });
    expect(notify.ResultPath).toBeNull();
    expect(notify.Next).toBe('DeploymentFailed');
    expect(notify.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'DeploymentFailed', ResultPath: null }]);
    expect(def.States.DeploymentFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  test('Preflight gets the operator input and the config as one JSON string', () => {
    const params = def.States.Preflight.Parameters!;
    expect(params['input.$']).toBe('$.request');
    expect(JSON.parse(params.config as string)).toMatchObject({ gatewayName: 'gateway', target: { account: '123456789012' } });
  });

  test('RenderWorkspace gets the execution name as run id and only the Preflight result', () => {
    expect(def.States.RenderWorkspace.Parameters).toMatchObject({ 'runId.$': '$$.Execution.Name', 'preflight.$': '$.preflight' });
  });
});
