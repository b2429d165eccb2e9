import { Match } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { definitionOf, synth } from './support';
import { EXAMPLE_CONFIG } from '../../lib/config';

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

  test('every handler runs on Node 24, arm64, with tracing and a retained log group', () => {
    const handlers = Object.values(functions).filter((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME);
    expect(handlers.map((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual(
      ['acquire-lock', 'analyze-plan', 'check-approval', 'decide-approval', 'evaluate-verification', 'notify', 'preflight', 'record-deployment', 'release-trigger', 'remediate', 'render-workspace', 'request-approval', 'run-ended'].map(
        (h) => `gateway-deployer-${h}`,
      ),
    );
    for (const fn of handlers) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
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
    const preflightRole = stack.getLogicalId(stack.workflow.node.scope!.node.findChild('Preflight').node.findChild('Role').node.defaultChild as never);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === preflightRole))!;
    const actions: string[] = policy.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket', 'secretsmanager:GetSecretValue', 'dynamodb:GetItem', 'kms:Decrypt']));
    // Its own traces and its own log group (test/cdk/iam.test.ts) aside.
    const writes = actions.filter((a) => !a.startsWith('xray:') && !a.startsWith('logs:') && /Put|Delete|Update|Write|Encrypt$|GenerateDataKey/.test(a));
    expect(writes).toEqual([]);
  });

  test('Preflight may call ec2:DescribeSubnets (resource "*", the only one it supports) only when the config reuses a VPC', () => {
    const preflightPolicy = (t: typeof template, st: typeof stack) => {
      const role = st.getLogicalId(st.deployer.node.findChild('Preflight').node.findChild('Role').node.defaultChild as never);
      return Object.values(t.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))!;
    };
    const describeSubnets = (policy: { [key: string]: any }) =>
      (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).filter((s) => [s.Action].flat().includes('ec2:DescribeSubnets'));
    const reuse = synth({ module: { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0640da74d7ffb177f'] } });
    const [statement, ...more] = describeSubnets(preflightPolicy(reuse.template, reuse.stack)) as Array<{ Action: string | string[]; Resource: unknown }>;
    expect(more).toEqual([]);
    expect(statement.Resource).toBe('*');
    // CDK merges it with X-Ray's statement, which has the same resource; nothing else shares "*".
    expect([statement.Action].flat().filter((a) => a !== 'ec2:DescribeSubnets' && !a.startsWith('xray:'))).toEqual([]);
    const own = synth({ module: { create_vpc: true } });
    expect(describeSubnets(preflightPolicy(own.template, own.stack))).toEqual([]);
  });

  test('AnalyzePlan reads plans and the detach-vpc lists, nothing else of the reports', () => {
    const role = stack.getLogicalId(stack.deployer.node.findChild('AnalyzePlan').node.findChild('Role').node.defaultChild as never);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))!;
    const gets = JSON.stringify(policy.Properties.PolicyDocument.Statement.filter((s: { Action: string | string[] }) => [s.Action].flat().includes('s3:GetObject')));
    expect(gets).toContain('/plans/*');
    expect(gets).toContain('/reports/*/detach-vpc.json');
    expect(gets).not.toContain('/reports/*"');
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

  const roleIdOf = (role: { node: { defaultChild?: unknown } }) => stack.getLogicalId(role.node.defaultChild as never);

  test('Plan, Apply and Verify projects: KMS, an S3 cache, the pinned Terraform, the helpers as S3 source', () => {
    expect(Object.keys(projects)).toHaveLength(3);
    for (const project of Object.values(projects)) {
      expect(project.Properties).toMatchObject({ EncryptionKey: expect.anything(), Cache: expect.objectContaining({ Type: 'S3' }), Source: expect.objectContaining({ Type: 'S3' }) });
      expect(project.Properties.Environment.EnvironmentVariables).toContainEqual({ Name: 'TF_VERSION', Type: 'PLAINTEXT', Value: '1.11.4' });
    }
  });

  test('Plan and Apply share one build cache, so Apply installs no provider Plan installed in the run; Verify has its own', () => {
    const cacheOf = (command: string) =>
      JSON.stringify(Object.values(projects).find((p) => (JSON.parse(p.Properties.Source.BuildSpec).env.variables.TERRAFORM_COMMAND ?? 'verify') === command)!.Properties.Cache.Location);
    expect(cacheOf('plan')).toBe(cacheOf('apply'));
    expect(cacheOf('plan')).toContain('/codebuild-cache/terraform');
    expect(cacheOf('verify')).toContain('/codebuild-cache/verify');
  });

  test('Plan runs under its own role, not the role of Apply and Verify (which run only after an approval)', () => {
    const planRole = roleIdOf(stack.terraform.planRole);
    const writeRole = roleIdOf(stack.terraform.role);
    expect(planRole).not.toBe(writeRole);
    const byCommand = Object.values(projects).map((p) => [JSON.parse(p.Properties.Source.BuildSpec).env.variables.TERRAFORM_COMMAND ?? 'verify', p.Properties.ServiceRole['Fn::GetAtt'][0]]);
    expect(Object.fromEntries(byCommand)).toEqual({ plan: planRole, apply: writeRole, verify: writeRole });
  });

  test('the Plan role holds only read-only managed policies and writes nothing but the state lock, plans/, reports/ and its build cache', () => {
    const resources = template.toJSON().Resources;
    const planRole = roleIdOf(stack.terraform.planRole);
    expect(resources[planRole].Properties.ManagedPolicyArns).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === planRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const writes = statements.filter((st) => [st.Action].flat().some((a) => /^s3:(Put|Delete|Abort)|^dynamodb:(Put|Update|Delete)|^iam:|^ec2:|^eks:/.test(a)));
    const targets = writes.flatMap((st) => [st.Resource].flat()).map((r) => JSON.stringify(r).replace(/^.*"Arn"\]\},"\/([^"]*)"\]\]\}$/, '$1'));
    expect(targets.sort()).toEqual(['*.tflock', 'codebuild-cache/*', 'plans/*', 'reports/*']);
  });

  test.each([
    ['terraform-step.js', 'plan', ['PLAN_JSON_KEY', 'DETACH_REPORT_KEY', 'DETACH_COUNT']],
    ['terraform-step.js', 'apply', ['APPLY_REPORT_KEY', 'DETACH_REPORT_KEY', 'DETACH_COUNT', 'STATE_BACKUP_KEY']],
    ['verify-step.js', undefined, ['AGENT_VERSION']],
  ])('the buildspec running %s %s is the file in buildspecs/, exporting %s', (helper, command, exported) => {
    const specs = Object.values(projects).map((p) => JSON.parse(p.Properties.Source.BuildSpec));
    const spec = specs.find(
      (sp) => sp.phases.build.commands.some((c: string) => c.includes(`${helper}"`)) && (command === undefined || sp.env.variables.TERRAFORM_COMMAND === command),
    );
    expect(spec).toBeDefined();
    // The command comes from TERRAFORM_COMMAND (the buildspec's default, or the state machine's override).
    if (command) expect(spec.phases.build.commands.join('\n')).toContain(`${helper}" "$TERRAFORM_COMMAND"`);
    expect(spec.env['exported-variables']).toEqual(expect.arrayContaining(exported));
  });

  test('the Terraform builds know the state bucket (detach-vpc backs the state up there)', () => {
    const stateBucket = { Ref: stack.getLogicalId(stack.artifacts.stateBucket.node.defaultChild as never) };
    const terraformProjects = Object.values(projects).filter((p) => String(p.Properties.Source.BuildSpec).includes('terraform-step.js'));
    expect(terraformProjects).toHaveLength(2);
    for (const p of terraformProjects) expect(p.Properties.Environment.EnvironmentVariables).toContainEqual({ Name: 'STATE_BUCKET', Type: 'PLAINTEXT', Value: stateBucket });
  });

  test('every build redacts the values.yaml keys the config marks secret (valuesSecretKeys)', () => {
    const marked = synth({ valuesSecretKeys: ['auth.orchestrator.extraKey', 'license'] }).template.findResources('AWS::CodeBuild::Project');
    const builds = Object.values(marked).filter((p) => String(p.Properties.Source?.BuildSpec ?? '').includes('-step.js'));
    expect(builds.length).toBeGreaterThanOrEqual(3);
    for (const p of builds) {
      expect(p.Properties.Environment.EnvironmentVariables).toContainEqual({ Name: 'VALUES_SECRET_KEYS', Type: 'PLAINTEXT', Value: 'auth.orchestrator.extraKey,license' });
    }
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

  test('the Terraform role may read the values secret and write only reports/ in the artifacts bucket (plans/ is Plan\'s)', () => {
    const roleId = stack.getLogicalId(stack.terraform.role.node.defaultChild as never);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))!;
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>;
    const puts = statements.filter((st) => [st.Action].flat().includes('s3:PutObject'));
    expect(JSON.stringify(puts)).not.toContain('/plans/*');
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

describe('the state machine\'s own table access', () => {
  test('ReleaseLock can delete the lock item of the KMS-encrypted table: the machine role may decrypt with the stack key', () => {
    const machineRoleId = stack.getLogicalId(stack.workflow.stateMachine.role.node.defaultChild as never);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === machineRoleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const keyId = stack.getLogicalId(stack.artifacts.key.node.defaultChild as never);
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } }));
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'dynamodb:DeleteItem' }));
  });

  test('its log group is under /aws/vendedlogs/, as Step Functions recommends', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/vendedlogs/states/GatewayDeployment-gateway' });
  });
});

describe('approval permission', () => {
  test('an approver policy and the approval function are outputs; the policy only invokes that function', () => {
    template.hasOutput('ApproverPolicyArn', {});
    template.hasOutput('ApprovalFunctionName', {});
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DecideApprovalFunction'), 'Arn'] } })]),
      },
    });
  });

  test('the approval function knows the configured approvers; the check after each wait reads its record', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'gateway-deployer-decide-approval', APPROVERS: JSON.stringify(EXAMPLE_CONFIG.approval.approvers) }) },
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
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  test('its timeout covers the longest path: three approval waits, two Plans, two Applies, three cluster builds, each at its limit', () => {
    // Read from the template itself, so a longer build or approval timeout that outgrows the machine's fails here.
    const projects = template.findResources('AWS::CodeBuild::Project');
    const projectOf: Record<string, Construct> = { Plan: stack.terraform.planProject, Apply: stack.terraform.applyProject };
    const buildMinutes = (state: string) => {
      const project = projects[stack.getLogicalId((projectOf[state] ?? stack.terraform.verifyProject).node.defaultChild as never)].Properties;
      expect(project.QueuedTimeoutInMinutes).toBeGreaterThan(0);
      return (project.TimeoutInMinutes as number) + (project.QueuedTimeoutInMinutes as number);
    };
    const waits = ['RequestApproval', 'ApproveUninstall', 'RequestApproval'].map((s) => def.States[s].TimeoutSeconds as number);
    const builds = ['Plan', 'Apply', 'InspectRelease', 'UninstallRelease', 'Plan', 'Apply', 'Verify'].map((s) => buildMinutes(s) * 60);
    const longestPath = [...waits, ...builds].reduce((a: number, b: number) => a + b, 0);
    expect(longestPath).toBeGreaterThan(3 * 24 * 3600);
    expect(def.TimeoutSeconds).toBeGreaterThanOrEqual(longestPath);
    // And not absurdly more: the margin is for the Lambda steps and transitions.
    expect(def.TimeoutSeconds! - longestPath).toBeLessThanOrEqual(3 * 3600);
  });

  test('runs ReceiveRequest → AcquireLock → Preflight → RenderWorkspace → Operation (Plan, or ListVpcState for detach-vpc) → AnalyzePlan → ApprovalGate', () => {
    expect(def.StartAt).toBe('ReceiveRequest');
    expect(def.States.ReceiveRequest.Next).toBe('AcquireLock');
    expect(def.States.AcquireLock.Next).toBe('Preflight');
    expect(def.States.Preflight.Next).toBe('RenderWorkspace');
    expect(def.States.RenderWorkspace.Next).toBe('Operation');
    expect(def.States.Operation).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.preflight.operation', StringEquals: 'detach-vpc', Next: 'ListVpcState' }],
      Default: 'Plan',
    });
    expect(def.States.Plan.Next).toBe('AnalyzePlan');
    expect(def.States.ListVpcState.Next).toBe('AnalyzePlan');
    expect(def.States.AnalyzePlan.Next).toBe('ApprovalGate');
  });

  test('the gate: drift checks only notify, nothing to detach or apply skips approval, auto-approve goes straight to Apply, otherwise an operator is asked', () => {
    const gate = def.States.ApprovalGate as unknown as { Type: string; Choices: Array<Record<string, unknown>>; Default: string };
    expect(gate.Type).toBe('Choice');
    expect(gate.Choices).toEqual([
      { Variable: '$.preflight.operation', StringEquals: 'drift-check', Next: 'NotifyDrift' },
      {
        And: [
          { Variable: '$.preflight.operation', StringEquals: 'detach-vpc' },
          { Variable: '$.analysis.decision', StringEquals: 'no-changes' },
        ],
        Next: 'NotifyDetached',
      },
      { Variable: '$.analysis.decision', StringEquals: 'no-changes', Next: 'NothingToApply' },
      { Variable: '$.analysis.decision', StringEquals: 'auto-approve', Next: 'AutoApprove' },
    ]);
    expect(gate.Default).toBe('RequestApproval');
    expect(def.States.AutoApprove.Next).toBe('Apply');
    // A task token wakes the run; only CheckApproval's reading of the approval function's record lets it go on.
    expect(def.States.RequestApproval.Next).toBe('CheckApproval');
    expect(def.States.CheckApproval.Next).toBe('AfterApproval');
    expect(def.States.CheckApproval.Parameters).toMatchObject({
      'executionName.$': '$$.Execution.Name',
      approvalState: 'RequestApproval',
      'subjectBuildId.$': '$.plan.buildId',
      'planSha256.$': '$.analysis.planSha256',
    });
    expect(def.States.CheckApproval.ResultPath).toBe('$.approval');
    // What the sender of a task result wrote is never kept: only CheckApproval's reading of the record is.
    expect(def.States.RequestApproval.ResultPath).toBeNull();
    expect(def.States.ApproveUninstall.ResultPath).toBeNull();
    expect(def.States.RequestApproval.Parameters?.Payload).toMatchObject({ approvalState: 'RequestApproval', 'subjectBuildId.$': '$.plan.buildId' });
    expect(def.States.AfterApproval).toMatchObject({
      Choices: [{ Variable: '$.preflight.operation', StringEquals: 'detach-vpc', Next: 'DetachVpc' }],
      Default: 'Apply',
    });
  });

  test('a drift check never reaches Apply: NotifyDrift → ReleaseLock, ending in DriftChecked', () => {
    expect(def.States.NotifyDrift).toMatchObject({ Next: 'ReleaseLock', Parameters: { kind: 'drift', 'state.$': '$' } });
    expect(def.States.RunOutcome.Choices).toEqual(
      expect.arrayContaining([{ Variable: '$.preflight.operation', StringEquals: 'drift-check', Next: 'DriftChecked' }]),
    );
    expect(def.States.DriftChecked.Type).toBe('Succeed');
  });

  test('detach-vpc: ListVpcState and DetachVpc run the Plan and Apply projects with their own Terraform command', () => {
    const command = (name: string) =>
      (def.States[name].Parameters!.EnvironmentVariablesOverride as Array<{ Name: string; Value?: string }>).find((o) => o.Name === 'TERRAFORM_COMMAND')?.Value;
    expect(def.States.ListVpcState.Parameters!.ProjectName).toEqual(def.States.Plan.Parameters!.ProjectName);
    expect(def.States.DetachVpc.Parameters!.ProjectName).toEqual(def.States.Apply.Parameters!.ProjectName);
    expect(command('ListVpcState')).toBe('list-vpc');
    expect(command('DetachVpc')).toBe('detach-vpc');
    expect(command('Plan')).toBeUndefined();
    expect(def.States.DetachVpc.Next).toBe('NotifyDetached');
    expect(def.States.NotifyDetached.Next).toBe('ReleaseLock');
  });

  test('after Apply, and when there was nothing to apply: Verify → EvaluateVerification → RecordDeployment → NotifySuccess → ReleaseLock → RunOutcome → Deployed', () => {
    expect(def.States.Apply.Next).toBe('Verify');
    expect(def.States.NothingToApply).toMatchObject({ Type: 'Pass', Next: 'Verify' });
    expect(def.States.Verify.Next).toBe('EvaluateVerification');
    expect(def.States.EvaluateVerification.Next).toBe('RecordDeployment');
    expect(def.States.RecordDeployment.Next).toBe('NotifySuccess');
    expect(def.States.NotifySuccess.Next).toBe('ReleaseLock');
    expect(def.States.ReleaseLock.Next).toBe('RunOutcome');
    expect(def.States.RunOutcome).toMatchObject({ Type: 'Choice', Default: 'Deployed' });
    expect(def.States.RunOutcome.Choices![0]).toEqual({ Variable: '$.error', IsPresent: true, Next: 'DeploymentFailed' });
    expect(def.States.Deployed.Type).toBe('Succeed');
  });

  test('AcquireLock writes this execution into the lock; a running holder ends the run (a drift check quietly), others are told', () => {
    const state = def.States.AcquireLock;
    expect(state.Parameters).toMatchObject({ gateway: 'gateway', 'executionArn.$': '$$.Execution.Id' });
    expect(state.ResultPath).toBe('$.lock');
    expect(state.Catch![0]).toEqual({ ErrorEquals: ['DeploymentInProgress'], Next: 'LockHeld', ResultPath: '$.error' });
    expect(def.States.LockHeld).toMatchObject({ Type: 'Choice', Default: 'NotifyFailure' });
    expect(def.States.LockHeld.Choices![0].Next).toBe('DriftCheckSkipped');
  });

  test('ReleaseLock deletes the lock item directly, only if this execution holds it, and never fails the run', () => {
    const state = def.States.ReleaseLock;
    expect(state.Resource).toMatch(/:states:::dynamodb:deleteItem$/);
    expect(state.Parameters).toMatchObject({
      Key: { pk: { S: 'GATEWAY#gateway' }, sk: { S: 'LOCK' } },
      ConditionExpression: 'executionArn = :me',
      ExpressionAttributeValues: { ':me': { 'S.$': '$$.Execution.Id' } },
    });
    expect(state.ResultPath).toBeNull();
    expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'RunOutcome', ResultPath: '$.lockNotReleased' }]);
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).toContain('DynamoDB.ThrottlingException');
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).not.toContain('DynamoDB.ConditionalCheckFailedException');
  });

  test('every end passes ReleaseLock: no state but RunOutcome leads to a terminal state', () => {
    const terminals = new Set(Object.entries(def.States).filter(([, s]) => s.Type === 'Succeed' || s.Type === 'Fail').map(([n]) => n));
    for (const [name, state] of Object.entries(def.States)) {
      const nexts = [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter(Boolean);
      // LockHeld's drift branch ends without the lock: it never held it.
      if (name === 'RunOutcome' || name === 'LockHeld') continue;
      for (const next of nexts) expect(`${name} → ${next}: ${terminals.has(next as string)}`).toBe(`${name} → ${next}: false`);
    }
  });

  test('the name-reuse remediation: Apply failure → DiagnoseApplyFailure → Remediable → InspectRelease → PrepareUninstall → UninstallGate → ApproveUninstall → UninstallRelease → RePlanAfterUninstall → Plan', () => {
    expect(def.States.Apply.Catch![0]).toEqual({ ErrorEquals: ['States.TaskFailed'], Next: 'DiagnoseApplyFailure', ResultPath: '$.applyError' });
    expect(def.States.DiagnoseApplyFailure).toMatchObject({ Next: 'Remediable', Parameters: { kind: 'diagnose', 'state.$': '$' } });
    expect(def.States.Remediable).toMatchObject({
      Choices: [{ Variable: '$.applyFailure.action', StringEquals: 'inspect-release', Next: 'InspectRelease' }],
      Default: 'ApplyFailed',
    });
    expect(def.States.ApplyFailed).toMatchObject({ Type: 'Pass', InputPath: '$.applyError', ResultPath: '$.error', Next: 'NotifyFailure' });
    expect(def.States.InspectRelease.Next).toBe('PrepareUninstall');
    expect(def.States.PrepareUninstall.Next).toBe('UninstallGate');
    expect(def.States.UninstallGate).toMatchObject({ Choices: [{ Variable: '$.remediation.decision', StringEquals: 're-plan', Next: 'RePlan' }], Default: 'ApproveUninstall' });
    // A fresh round: the failed round's plan, approval and Apply error do not survive into the re-plan.
    for (const name of ['RePlan', 'RePlanAfterUninstall']) {
      const keys = Object.keys(def.States[name].Parameters!).map((k) => k.replace(/\.\$$/, ''));
      expect(def.States[name]).toMatchObject({ Type: 'Pass', Next: 'Plan' });
      expect(keys).toEqual(expect.arrayContaining(['request', 'lock', 'preflight', 'workspace', 'applyFailure', 'remediation']));
      for (const dropped of ['plan', 'analysis', 'approval', 'apply', 'applyError', 'error']) expect(keys).not.toContain(dropped);
    }
    expect(def.States.ApproveUninstall.Resource).toMatch(/:states:::lambda:invoke\.waitForTaskToken$/);
    expect(def.States.ApproveUninstall.Parameters).toMatchObject({ Payload: { 'analysis.$': '$.remediation.analysis' } });
    expect(def.States.ApproveUninstall.Next).toBe('CheckUninstallApproval');
    expect(def.States.CheckUninstallApproval).toMatchObject({
      Next: 'UninstallRelease',
      ResultPath: '$.uninstallApproval',
      Parameters: { approvalState: 'ApproveUninstall', 'subjectBuildId.$': '$.releaseInspection.buildId', 'planSha256.$': '$.remediation.analysis.planSha256' },
    });
    expect(def.States.UninstallRelease.Next).toBe('RePlanAfterUninstall');
    const action = (name: string) =>
      (def.States[name].Parameters!.EnvironmentVariablesOverride as Array<{ Name: string; Value?: string }>).find((o) => o.Name === 'CLUSTER_ACTION')?.Value;
    expect(def.States.InspectRelease.Parameters!.ProjectName).toEqual(def.States.Verify.Parameters!.ProjectName);
    expect([action('InspectRelease'), action('UninstallRelease'), action('Verify')]).toEqual(['inspect-release', 'uninstall-release', 'verify']);
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
    const t = synth({ approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'], timeoutHours: 4 } }).template;
    expect(definitionOf(t).States.RequestApproval.TimeoutSeconds).toBe(4 * 3600);
  });

  test('every build knows its execution and the lock table, and its role may read the lock: a redriven run cannot act beside a newer one', () => {
    const buildStates = Object.entries(def.States).filter(([, s]) => String(s.Resource).endsWith(':states:::codebuild:startBuild.sync'));
    expect(buildStates.map(([n]) => n).sort()).toEqual(['Apply', 'DetachVpc', 'InspectRelease', 'ListVpcState', 'Plan', 'UninstallRelease', 'Verify']);
    for (const [name, state] of buildStates) {
      const overrides = state.Parameters!.EnvironmentVariablesOverride as Array<{ Name: string; 'Value.$'?: string }>;
      expect({ name, executionArn: overrides.find((o) => o.Name === 'EXECUTION_ARN')?.['Value.$'] }).toEqual({ name, executionArn: '$$.Execution.Id' });
    }
    const table = { Ref: stack.getLogicalId(stack.artifacts.table.node.defaultChild as never) };
    const projects = template.findResources('AWS::CodeBuild::Project');
    for (const [id, p] of Object.entries(projects)) {
      expect({ id, env: p.Properties.Environment.EnvironmentVariables }).toEqual({ id, env: expect.arrayContaining([{ Name: 'DEPLOYMENTS_TABLE', Type: 'PLAINTEXT', Value: table }]) });
    }
    for (const role of [stack.terraform.role, stack.terraform.planRole]) {
      const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
        p.Properties.Roles.some((r: { Ref: string }) => r.Ref === stack.getLogicalId(role.node.defaultChild as never)),
      )!;
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [table.Ref, 'Arn'] } }),
      );
    }
  });

  test('an EventBridge rule hands every timed-out, stopped or failed execution of this machine to RunEnded', () => {
    const machine = { Ref: stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never) };
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((r) => r.Properties.EventPattern?.source?.[0] === 'aws.states');
    expect(rules).toHaveLength(1);
    expect(rules[0].Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [machine], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
    });
    const [target] = rules[0].Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RunEndedFunction/), 'Arn'] });
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 24 * 3600 });
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
    expect(state.Catch!.at(-1)).toEqual({ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' });
  });

  test.each(['Apply', 'DetachVpc'])('%s is given the approved digest and S3 version, which it checks before acting', (name) => {
    const overrides = def.States[name].Parameters!.EnvironmentVariablesOverride as Array<{ Name: string; 'Value.$'?: string }>;
    expect(overrides).toEqual(
      expect.arrayContaining([
        { Name: 'PLAN_SHA256', Type: 'PLAINTEXT', 'Value.$': '$.analysis.planSha256' },
        { Name: 'PLAN_VERSION_ID', Type: 'PLAINTEXT', 'Value.$': '$.analysis.planVersionId' },
      ]),
    );
  });

  test('Preflight is given the execution name, under which the release trigger leaves its proof', () => {
    expect(def.States.Preflight.Parameters).toMatchObject({ 'executionName.$': '$$.Execution.Name' });
  });

  test.each(['Preflight', 'RenderWorkspace', 'AnalyzePlan'])('%s retries transient errors and catches the rest into NotifyFailure', (name) => {
    const state = def.States[name];
    expect(state.Type).toBe('Task');
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'ThrottlingException']));
    expect(state.Retry!.flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
    expect(state.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'NotifyFailure', ResultPath: '$.error' }]);
  });

  test('NotifyFailure hands the whole run state to the Notify Lambda and always ends, via ReleaseLock, in the DeploymentFailed Fail state', () => {
    const notify = def.States.NotifyFailure;
    expect(notify.Parameters).toMatchObject({ kind: 'failure', 'state.$': '$', 'executionArn.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime' });
    expect(notify.ResultPath).toBeNull();
    expect(notify.Next).toBe('ReleaseLock');
    expect(notify.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'ReleaseLock', ResultPath: null }]);
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

describe('one run per gateway', () => {
  const policyStatements = (fnService: string) => {
    const fns = template.findResources('AWS::Lambda::Function');
    const [, fn] = Object.entries(fns).find(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `gateway-deployer-${fnService}`)!;
    const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
  };

  test('AcquireLock may describe only this gateway\'s executions, and read and write the table', () => {
    const statements = policyStatements('acquire-lock');
    const describe = statements.find((s) => s.Action === 'states:DescribeExecution')!;
    expect(JSON.stringify(describe.Resource)).toContain(':execution:GatewayDeployment-gateway:*');
    expect(statements.flatMap((s) => [s.Action].flat())).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem']));
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('dynamodb:DeleteItem');
  });

  test('the state machine role may delete the lock item (ReleaseLock) in the deployer table', () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const role = (machine.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const del = statements.find((s) => [s.Action].flat().includes('dynamodb:DeleteItem'))!;
    expect(JSON.stringify(del.Resource)).toContain(stack.getLogicalId(stack.artifacts.table.node.defaultChild as never));
  });

  test('Remediate reads only reports', () => {
    const statements = policyStatements('remediate');
    const get = statements.find((s) => s.Action === 's3:GetObject')!;
    expect(JSON.stringify(get.Resource)).toContain('/reports/*');
    expect(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('s3:Put'))).toEqual([]);
  });
});

describe('drift detection', () => {
  test('no schedule unless configured', () => {
    expect(Object.keys(template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: Match.anyValue() } }))).toEqual([]);
  });

  test('a configured schedule starts a plan-only drift-check run of this state machine', () => {
    const { template: t } = synth({ drift: { schedule: 'rate(1 day)' } });
    const rules = Object.values(t.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(1 day)' } }));
    expect(rules).toHaveLength(1);
    const target = rules[0].Properties.Targets[0];
    expect(JSON.parse(target.Input)).toEqual({ operation: 'drift-check', trigger: 'schedule', reason: 'drift schedule rate(1 day)' });
    expect(JSON.stringify(target.Arn)).toContain('StateMachine');
  });

  test('a schedule that EventBridge would refuse is refused at synth, naming the field', () => {
    expect(() => synth({ drift: { schedule: 'every day' } })).toThrow(/drift\.schedule/);
  });
});
