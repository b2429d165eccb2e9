import type { Template } from 'aws-cdk-lib/assertions';
import { covers, list, referencedIds, synth } from './support';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Who may do what, read from the synthesized template. IAM does not depend on the bundled code, so these use
 * unbundled syntheses: the example config, and one with every optional grant (VPC reuse, a customized gateway.tf,
 * the values secret's own KMS key, a drift schedule).
 */
const KEY_ARN = 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const variants: Array<[string, ReturnType<typeof synth>]> = [
  ['example config', synth({}, false)],
  [
    'every optional grant',
    synth({
      module: { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0640da74d7ffb177f'] },
      customGatewayTfKey: 'custom/gateway.tf',
      valuesSecretKmsKeyArn: KEY_ARN,
      drift: { schedule: 'rate(1 day)' },
    }),
  ],
];

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}
type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

const resourcesOf = (template: Template) => template.toJSON().Resources as Resources;
const ofType = (template: Template, type: string) => Object.entries(resourcesOf(template)).filter(([, r]) => r.Type === type);

/** Every statement a role holds through the template: its inline policies, and the policies attached to it. */
function roleStatements(template: Template, roleId: string): Statement[] {
  const resources = resourcesOf(template);
  const attached = Object.values(resources)
    .filter((r) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && list(r.Properties.Roles).some((ref: { Ref?: string }) => ref.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
  const inline = list(resources[roleId].Properties.Policies).flatMap((p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement);
  return [...attached, ...inline];
}

/** Every statement of every policy in the template, with where it is. */
function allStatements(template: Template): Array<{ where: string; statement: Statement }> {
  return Object.entries(resourcesOf(template)).flatMap(([id, r]) => {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      return (r.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({ where: id, statement }));
    }
    if (r.Type === 'AWS::IAM::Role') {
      return list(r.Properties.Policies).flatMap((p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement.map((statement) => ({ where: id, statement })));
    }
    return [];
  });
}


/** A resource of this stack (Ref or GetAtt), or an ARN built from one (Fn::Join with a reference into the template). */
const isOwn = (resources: Resources, value: unknown) => {
  const ids = referencedIds(value);
  return ids.length > 0 && ids.every((id) => id in resources);
};


const handlerName = (fn: { Properties: Record<string, any> }): string | undefined => fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME?.replace(/^gateway-deployer-/, '');
const roleOf = (fn: { Properties: Record<string, any> }): string => fn.Properties.Role['Fn::GetAtt'][0];

describe.each(variants)('IAM (%s)', (_name, { template }) => {
  const resources = resourcesOf(template);
  const [[machineId, machine]] = ofType(template, 'AWS::StepFunctions::StateMachine');
  const machineName: string = machine.Properties.StateMachineName;
  const functions = ofType(template, 'AWS::Lambda::Function');
  const deployerFunctions = functions.filter(([, fn]) => handlerName(fn));
  const { account, region } = { account: '123456789012', region: 'eu-central-1' };
  const valuesSecretArn = `arn:aws:secretsmanager:${region}:${account}:secret:gateway/values.yaml-??????`;

  describe('Lambda roles', () => {
    test('there are the thirteen deployer handlers, each with its own role, and CDK\'s S3 notifications handler', () => {
      expect(deployerFunctions).toHaveLength(13);
      expect(new Set(deployerFunctions.map(([, fn]) => roleOf(fn))).size).toBe(13);
      expect(functions.filter(([, fn]) => !handlerName(fn)).map(([id]) => id)).toEqual([expect.stringMatching(/^BucketNotificationsHandler/)]);
    });

    test('no wildcard action', () => {
      const wild = functions.flatMap(([id, fn]) =>
        roleStatements(template, roleOf(fn)).flatMap((s) =>
          list(s.Action)
            .filter((a) => a.includes('*') || a.includes('?'))
            .map((a) => `${id}: ${a}`),
        ),
      );
      expect(wild).toEqual([]);
    });

    test("no AWS managed policy on a deployer role (its log group only, not AWSLambdaBasicExecutionRole's every log group)", () => {
      const managed = deployerFunctions.map(([id, fn]) => [id, resources[roleOf(fn)].Properties.ManagedPolicyArns]).filter(([, arns]) => arns !== undefined);
      expect(managed).toEqual([]);
      for (const [, fn] of deployerFunctions) {
        const logs = roleStatements(template, roleOf(fn)).filter((s) => list(s.Action).some((a) => a.startsWith('logs:')));
        expect(logs).toEqual([{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [fn.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] } }]);
      }
    });

    test('only Allow statements, and every resource is one of this stack\'s own, or a documented exception', () => {
      const strays: string[] = [];
      for (const [id, fn] of functions) {
        for (const s of roleStatements(template, roleOf(fn))) {
          const actions = list(s.Action);
          if (s.Effect !== 'Allow') strays.push(`${id}: ${s.Effect} ${actions}`);
          for (const resource of list(s.Resource)) {
            if (isOwn(resources, resource)) continue;
            // X-Ray and ec2:DescribeSubnets accept no resource but "*".
            if (resource === '*' && actions.every((a) => ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'ec2:DescribeSubnets'].includes(a))) continue;
            // AcquireLock: the executions of this stack's state machine, by its name (the machine depends on the function).
            if (resource === `arn:aws:states:${region}:${account}:execution:${machineName}:*` && actions.join() === 'states:DescribeExecution') continue;
            // RunEnded: the history of the execution that ended, to tell how far it got.
            if (resource === `arn:aws:states:${region}:${account}:execution:${machineName}:*` && actions.join() === 'states:GetExecutionHistory' && handlerName(fn) === 'run-ended') continue;
            // The configured values secret (and its own KMS key), which the stack reads but does not own.
            if (resource === valuesSecretArn && actions.every((a) => ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'].includes(a))) continue;
            if (resource === KEY_ARN && actions.join() === 'kms:Decrypt') continue;
            // The approval function wakes waiting runs; SendTask* accept no resource but "*" (CheckApproval is the gate).
            if (resource === '*' && handlerName(fn) === 'decide-approval' && actions.every((a) => ['states:SendTaskSuccess', 'states:SendTaskFailure', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords'].includes(a))) continue;
            strays.push(`${id}: ${actions.join(',')} on ${JSON.stringify(resource)}`);
          }
        }
      }
      expect(strays).toEqual([]);
    });

    test('ec2:DescribeSubnets only for Preflight, and only when the config reuses a VPC', () => {
      const holders = functions.filter(([, fn]) => roleStatements(template, roleOf(fn)).some((s) => list(s.Action).includes('ec2:DescribeSubnets'))).map(([, fn]) => handlerName(fn));
      expect(holders).toEqual(_name === 'every optional grant' ? ['preflight'] : []);
    });

    test('sns:ListSubscriptionsByTopic only for RequestApproval and Notify, on the support and operators topics only; nobody may Subscribe', () => {
      const topics = ofType(template, 'AWS::SNS::Topic').map(([id]) => id).sort();
      expect(topics).toHaveLength(2);
      const grants = functions.flatMap(([, fn]) =>
        roleStatements(template, roleOf(fn))
          .filter((s) => list(s.Action).some((a) => covers(a, 'sns:ListSubscriptionsByTopic')))
          .map((statement) => ({ handler: handlerName(fn), statement })),
      );
      expect(grants.map((g) => g.handler).sort()).toEqual(['notify', 'request-approval']);
      for (const { statement } of grants) {
        expect(statement.Effect).toBe('Allow');
        // CDK merges it with Notify's sns:Publish, which has the same two topics.
        expect(list(statement.Action).filter((a) => a !== 'sns:Publish')).toEqual(['sns:ListSubscriptionsByTopic']);
        expect(list(statement.Resource).map((r) => (r as { Ref?: string }).Ref).sort()).toEqual(topics);
        expect(statement.Condition).toBeUndefined();
      }
      // No other policy of the template (the state machine, the builds, the approver policy) has it, and only the
      // operators' managed policy (for `subscriptions --resend`, attached by hand) subscribes, on the two topics.
      const anywhere = allStatements(template).filter(({ statement }) => list(statement.Action).some((a) => covers(a, 'sns:ListSubscriptionsByTopic')));
      expect(anywhere.map(({ where }) => where.replace(/[0-9A-F]{8}$/, '')).filter((w) => !w.endsWith('RoleDefaultPolicy'))).toEqual(['OperatorPolicy']);
      expect(anywhere).toHaveLength(3);
      const subscribers = allStatements(template).filter(({ statement }) => list(statement.Action).some((a) => covers(a, 'sns:Subscribe')));
      expect(subscribers.map(({ where }) => where.replace(/[0-9A-F]{8}$/, ''))).toEqual(['OperatorPolicy']);
      expect(list(subscribers[0].statement.Resource).map((r) => (r as { Ref?: string }).Ref).sort()).toEqual(topics);
    });
  });

  describe('the state machine role', () => {
    const machineRole: string = machine.Properties.RoleArn['Fn::GetAtt'][0];
    const statements = roleStatements(template, machineRole);
    const projects = ofType(template, 'AWS::CodeBuild::Project').map(([id]) => id).sort();
    const vendedLogsAndXray = [
      'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ];
    const kinds = (s: Statement): string => {
      const actions = list(s.Action).sort();
      const res = list(s.Resource);
      const getAtts = res.map((r) => (r as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0]);
      if (actions.join() === 'lambda:InvokeFunction') return 'invoke';
      if (actions.every((a) => ['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:BatchGetBuilds', 'codebuild:BatchGetReports'].includes(a))) {
        return JSON.stringify(getAtts.slice().sort()) === JSON.stringify(projects) && res.every((r) => (r as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[1] === 'Arn') ? 'codebuild' : 'codebuild on something else';
      }
      // The EventBridge rule Step Functions manages for the .sync CodeBuild integration.
      if (actions.join() === 'events:DescribeRule,events:PutRule,events:PutTargets') {
        return res.length === 1 && res[0] === `arn:aws:events:${region}:${account}:rule/StepFunctionsGetEventForCodeBuildStartBuildRule` ? 'sync-rule' : 'events on something else';
      }
      if (actions.join() === 'dynamodb:DeleteItem') {
        return referencedIds(res).join() === ofType(template, 'AWS::DynamoDB::Table')[0][0] ? 'release-lock' : 'dynamodb on something else';
      }
      // The lock item is in a table encrypted with the stack key: DynamoDB calls KMS as the caller.
      if (actions.join() === 'kms:Decrypt') return referencedIds(res).join() === ofType(template, 'AWS::KMS::Key')[0][0] ? 'release-lock-key' : 'kms on something else';
      if (actions.every((a) => vendedLogsAndXray.includes(a)) && res.join() === '*') return 'logs-and-xray';
      return `unexpected: ${JSON.stringify(s)}`;
    };

    test('holds only: invoke its functions, run its three builds, the .sync rule, the lock delete (and its key), logs and X-Ray', () => {
      expect(statements.map(kinds).sort()).toEqual(['codebuild', 'invoke', 'logs-and-xray', 'release-lock', 'release-lock-key', 'sync-rule']);
      expect(statements.every((s) => s.Effect === 'Allow' && s.Condition === undefined)).toBe(true);
    });

    test('starts, stops and reads only the Plan, Apply and Verify builds of this stack', () => {
      const codebuild = statements.filter((s) => list(s.Action).some((a) => a.startsWith('codebuild:')));
      expect(codebuild).toHaveLength(1);
      expect(list(codebuild[0].Action).sort()).toEqual(['codebuild:BatchGetBuilds', 'codebuild:BatchGetReports', 'codebuild:StartBuild', 'codebuild:StopBuild']);
      expect(projects).toHaveLength(3);
    });

    test("invokes only this stack's functions (and their versions), every handler but the release trigger", () => {
      const invoked = statements.filter((s) => list(s.Action).includes('lambda:InvokeFunction')).flatMap((s) => list(s.Resource));
      const byId = new Map(functions);
      const strays = invoked.filter((r) => {
        const ids = referencedIds(r);
        const plain = JSON.stringify(r) === JSON.stringify({ 'Fn::GetAtt': [ids[0], 'Arn'] });
        const qualified = JSON.stringify(r) === JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids[0], 'Arn'] }, ':*']] });
        return ids.length !== 1 || !byId.has(ids[0]) || !(plain || qualified);
      });
      expect(strays).toEqual([]);
      const names = [...new Set(invoked.flatMap(referencedIds).map((id) => handlerName(byId.get(id)!)))].sort();
      // Not the approval function: only operators invoke it; not the release trigger: EventBridge does.
      expect(names).toEqual(['acquire-lock', 'analyze-plan', 'check-approval', 'evaluate-verification', 'notify', 'preflight', 'record-deployment', 'remediate', 'render-workspace', 'request-approval']);
    });
  });

  describe('who may start a run', () => {
    test('states:StartExecution on this state machine is granted only to the release trigger and the drift schedule', () => {
      const starters = allStatements(template).filter(({ statement }) => list(statement.Action).some((a) => covers(a, 'states:StartExecution')));
      for (const { statement } of starters) expect(statement.Resource).toEqual({ Ref: machineId });
      const holders = starters.map(({ where }) => where.replace(/[0-9A-F]{8}$/, '')).sort();
      // And the operators' managed policy (OperatorPolicyArn), for `gateway-deployer start`: attached by hand.
      expect(holders).toEqual(
        _name === 'every optional grant'
          ? ['OperatorPolicy', 'ReleaseTriggerHandlerRoleDefaultPolicy', 'WorkflowStateMachineEventsRoleDefaultPolicy']
          : ['OperatorPolicy', 'ReleaseTriggerHandlerRoleDefaultPolicy'],
      );
    });
  });

  describe('who may write to the artifacts bucket (bundles arrive under releases/)', () => {
    test('nobody may write to the whole bucket; the Plan role only plans/, reports/ and its cache, the Terraform role only reports/ and its cache', () => {
      const artifactsId = ofType(template, 'AWS::S3::Bucket').find(([id]) => id.startsWith('ArtifactsArtifactsBucket'))![0];
      const writes = ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'];
      // `<holder> <object pattern>` for each write grant on the artifacts bucket's objects.
      const writers = allStatements(template).flatMap(({ where, statement }) => {
        if (!list(statement.Action).some((a) => writes.some((w) => covers(a, w)))) return [];
        return list(statement.Resource)
          .filter((r) => referencedIds(r).includes(artifactsId))
          .map((r) => `${where.replace(/(RoleDefaultPolicy)?[0-9A-F]{8}$/, '')} ${JSON.stringify(r).replace(/^.*"Arn"\]\},"([^"]*)"\]\]\}$/, '$1')}`);
      });
      expect(writers.filter((w) => w.endsWith(' /*') || !w.includes(' /'))).toEqual([]);
      expect(writers.filter((w) => w.startsWith('Terraform')).sort()).toEqual([
        'Terraform /codebuild-cache/*',
        'Terraform /reports/*',
        'TerraformPlan /codebuild-cache/*',
        'TerraformPlan /plans/*',
        'TerraformPlan /reports/*',
      ]);
    });
  });

  describe('who may read the values secret', () => {
    test('Preflight and the two CodeBuild roles (Plan; Apply and Verify) only', () => {
      const readers = allStatements(template)
        .filter(({ statement }) => list(statement.Action).some((a) => covers(a, 'secretsmanager:GetSecretValue')))
        .map(({ where, statement }) => [where.replace(/(RoleDefaultPolicy)?[0-9A-F]{8}$/, ''), statement.Resource]);
      expect(readers.sort()).toEqual([
        ['Preflight', valuesSecretArn],
        ['Terraform', valuesSecretArn],
        ['TerraformPlan', valuesSecretArn],
      ]);
    });
  });

  describe('the approval permission', () => {
    const [[approverId, approver]] = ofType(template, 'AWS::IAM::ManagedPolicy');
    const [[, table]] = ofType(template, 'AWS::DynamoDB::Table');
    const fnId = (name: string) => deployerFunctions.find(([, fn]) => handlerName(fn) === name)![0];
    const roleIdOf = (name: string) => roleOf(resources[fnId(name)]);

    test('the ApproverPolicy reaches the approval function and finds the stack; it sends no task result and writes nothing', () => {
      expect(approver.Properties.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [fnId('decide-approval'), 'Arn'] } },
        { Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: { Ref: 'AWS::StackId' } },
      ]);
    });

    test('is attached to no one by the stack: an operator must be given it', () => {
      expect([approver.Properties.Roles, approver.Properties.Users, approver.Properties.Groups]).toEqual([undefined, undefined, undefined]);
      const attachedElsewhere = Object.values(resources).filter((r) => JSON.stringify(r.Properties?.ManagedPolicyArns ?? []).includes(approverId));
      expect(attachedElsewhere).toEqual([]);
    });

    test('only the approval function may send a task result (a token alone approves nothing: CheckApproval reads its record)', () => {
      const senders = allStatements(template)
        .filter(({ statement }) => statement.Effect === 'Allow' && list(statement.Action).some((a) => covers(a, 'states:SendTaskSuccess') || covers(a, 'states:SendTaskFailure')))
        .map(({ where }) => where.replace(/RoleDefaultPolicy[0-9A-F]{8}$/, ''));
      expect(senders).toEqual(['DecideApproval']);
    });

    test('the table denies every principal but the approval function writes to DECISION# keys, and all but the release trigger TRIGGER# keys', () => {
      const writes = ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
      expect(table.Properties.ResourcePolicy.PolicyDocument.Statement).toEqual([
        {
          Sid: 'OnlyTheApprovalFunctionWritesDecisions',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: writes,
          Resource: '*',
          Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['DECISION#*'] }, ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [roleIdOf('decide-approval'), 'Arn'] } } },
        },
        {
          Sid: 'OnlyTheReleaseTriggerWritesTriggerProofs',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: writes,
          Resource: '*',
          Condition: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['TRIGGER#*'] }, ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [roleIdOf('release-trigger'), 'Arn'] } } },
        },
      ]);
    });

    test('the approval function writes decisions only, and never updates or deletes one (append-only)', () => {
      const statements = roleStatements(template, roleIdOf('decide-approval')).filter((s) => list(s.Action).some((a) => a.startsWith('dynamodb:')));
      const writes = statements.filter((s) => list(s.Action).some((a) => /Put|Update|Delete|BatchWrite/.test(a)));
      expect(writes).toEqual([expect.objectContaining({ Action: 'dynamodb:PutItem', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DECISION#*'] } } })]);
      const anyUpdate = allStatements(template).filter(({ statement }) => list(statement.Action).some((a) => covers(a, 'dynamodb:UpdateItem') || covers(a, 'dynamodb:DeleteItem')));
      // Only the state machine (ReleaseLock) and RunEnded (a run that ended outside its catch) delete an item: the
      // lock, conditionally on the execution holding it. The table policy denies both DECISION# keys.
      expect(anyUpdate.map(({ where }) => where.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['RunEndedRoleDefaultPolicy', 'WorkflowStateMachineRoleDefaultPolicy']);
      expect(anyUpdate.flatMap(({ statement }) => list(statement.Action))).toEqual(['dynamodb:DeleteItem', 'dynamodb:DeleteItem']);
    });
  });

  describe('the artifacts bucket policy: who may write each prefix', () => {
    const [[, policy]] = ofType(template, 'AWS::S3::BucketPolicy').filter(([id]) => id.startsWith('ArtifactsArtifactsBucketPolicy'));
    const statements = policy.Properties.PolicyDocument.Statement as Array<Statement & { Sid?: string }>;
    const deny = (sid: string) => statements.find((s) => s.Sid === sid)!;
    const prefixOf = (r: unknown) => JSON.stringify(r).replace(/^.*"Arn"\]\},"\/([^"]*)"\]\]\}$/, '$1');

    test('releases/: only the release uploaders (default: the approvers) may put or delete a bundle', () => {
      const s = deny('OnlyReleaseUploadersWriteBundles');
      expect(s).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObject'] });
      expect(list(s.Resource).map(prefixOf)).toEqual(['releases/*']);
      expect(s.Condition).toEqual({ ArnNotLike: { 'aws:PrincipalArn': ['arn:aws:iam::123456789012:role/GatewayOperator', 'arn:aws:iam::123456789012:role/*/GatewayOperator'] } });
    });

    test('workspaces/: only RenderWorkspace; plans/: only the Plan role; reports/ and the build cache: the two CodeBuild roles', () => {
      const render = deny('OnlyRenderWorkspaceWritesWorkspaces');
      expect(list(render.Resource).map(prefixOf)).toEqual(['workspaces/*']);
      expect(render.Condition).toEqual({ ArnNotLike: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [roleOf(deployerFunctions.find(([, fn]) => handlerName(fn) === 'render-workspace')![1]), 'Arn'] }] } });
      const plans = deny('OnlyPlanWritesPlans');
      expect(list(plans.Resource).map(prefixOf)).toEqual(['plans/*']);
      expect(JSON.stringify(plans.Condition)).toMatch(/^\{"ArnNotLike":\{"aws:PrincipalArn":\[\{"Fn::GetAtt":\["TerraformPlanRole[0-9A-F]{8}","Arn"\]\}\]\}\}$/);
      const reports = deny('OnlyTerraformWritesReports');
      expect(list(reports.Resource).map(prefixOf).sort()).toEqual(['codebuild-cache/*', 'reports/*']);
      expect(JSON.stringify(reports.Condition)).toMatch(/"TerraformPlanRole[0-9A-F]{8}","Arn".*"TerraformRole[0-9A-F]{8}","Arn"/);
    });

    test('every prefix the stack writes is covered by one of them', () => {
      const covered = statements.filter((s) => s.Effect === 'Deny' && s.Sid).flatMap((s) => list(s.Resource).map(prefixOf));
      expect(covered.sort()).toEqual(['codebuild-cache/*', 'plans/*', 'releases/*', 'reports/*', 'workspaces/*']);
    });
  });
});

describe('the operator policy (OperatorPolicyArn)', () => {
  const { stack, template } = synth();
  const SERVICE: Record<string, string> = { 'client-cloudformation': 'cloudformation', 'client-dynamodb': 'dynamodb', 'client-s3': 's3', 'client-sfn': 'states', 'client-sns': 'sns' };
  /** Every AWS call of the operator CLI's adapters, as IAM actions: read from their imports, so a new call shows up here. */
  function cliActions(): string[] {
    const actions = new Set<string>();
    for (const file of ['operator-aws.ts', 'topic-subscriptions.ts']) {
      const source = fs.readFileSync(path.join(__dirname, '..', '..', 'lambdas', 'shared', 'adapters', file), 'utf-8');
      for (const [, names, client] of source.matchAll(/import \{([^}]*)\} from '@aws-sdk\/(client-[a-z0-9-]+)'/g)) {
        for (const name of names.split(',').map((n) => n.trim().replace(/^type /, ''))) {
          if (name.endsWith('Command')) actions.add(`${SERVICE[client]}:${name.slice(0, -'Command'.length)}`);
        }
      }
    }
    return [...actions].sort();
  }

  test('grants every call the CLI makes (start, status, history, dal-policy, subscriptions), and the key they need', () => {
    const id = stack.getLogicalId(stack.operatorPolicy.node.defaultChild as never);
    const statements = template.findResources('AWS::IAM::ManagedPolicy')[id].Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>;
    const granted = new Set(statements.flatMap((s) => list(s.Action)));
    expect(cliActions().length).toBeGreaterThanOrEqual(10);
    expect(cliActions().filter((a) => !granted.has(a))).toEqual([]);
    // The table and the objects are encrypted with the stack's key, which DynamoDB and S3 use as the caller.
    expect(granted.has('kms:Decrypt')).toBe(true);
    // Reads and starts only: no write to the table or the bucket, no decision (approving goes through the approval function).
    expect([...granted].filter((a) => /^(dynamodb:(Put|Update|Delete)|s3:(Put|Delete)|lambda:)/.test(a))).toEqual([]);
  });
});
