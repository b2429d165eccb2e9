/**
 * The words people read: the failure notice to operators (cause, advice, log), the seed's "Wrapping up"
 * completion report to Apheris support and operators, the drift notice and the VPC-detached notice.
 */
import { adviceFor, describeCause } from '../../lambdas/shared/domain/failure';
import {
  completionMessages,
  detachedMessage,
  driftMessage,
  failureMessage,
  type CompletionFacts,
  type DetachedFacts,
  type DriftFacts,
  type FailureFacts,
} from '../../lambdas/shared/domain/messages';

const BUILD_ID = 'gw-prod-apply:0b7c1e2a-1111-2222-3333-444455556666';
const DEEP_LINK = 'https://console.aws.amazon.com/cloudwatch/home?region=eu-central-1#logEvent:group=/aws/codebuild/gw-prod-apply;stream=0b7c1e2a';
const BUILD = {
  Id: BUILD_ID,
  BuildStatus: 'FAILED',
  Logs: { DeepLink: DEEP_LINK, GroupName: '/aws/codebuild/gw-prod-apply', StreamName: '0b7c1e2a-1111-2222-3333-444455556666' },
  Phases: [
    { PhaseType: 'SUBMITTED', PhaseStatus: 'SUCCEEDED' },
    { PhaseType: 'INSTALL', PhaseStatus: 'SUCCEEDED', Contexts: [{ Message: '' }] },
    {
      PhaseType: 'BUILD',
      PhaseStatus: 'FAILED',
      Contexts: [{ Message: 'Error while executing command: node "$CODEBUILD_SRC_DIR/terraform-step.js" apply. Reason: exit status 1' }],
    },
    { PhaseType: 'POST_BUILD', PhaseStatus: 'SUCCEEDED' },
    { PhaseType: 'COMPLETED' },
  ],
};

describe('describeCause', () => {
  test('a Lambda cause: the errorMessage only, no type or trace', () => {
    const cause = JSON.stringify({
      errorType: 'VersionError',
      errorMessage: 'version 0.8.1 is already deployed; set allowRedeploy to deploy it again',
      trace: ['VersionError: version 0.8.1 is already deployed', '    at preflight (/var/task/index.js:1:2)'],
    });
    expect(describeCause(cause)).toEqual({ message: 'version 0.8.1 is already deployed; set allowRedeploy to deploy it again' });
  });

  const BUILD_DETAILS = {
    message: `build ${BUILD_ID} FAILED in phase BUILD: Error while executing command: node "$CODEBUILD_SRC_DIR/terraform-step.js" apply. Reason: exit status 1`,
    buildId: BUILD_ID,
    logLink: DEEP_LINK,
    logGroup: '/aws/codebuild/gw-prod-apply',
    logStream: '0b7c1e2a-1111-2222-3333-444455556666',
    buildStatus: 'FAILED',
  };

  test('a CodeBuild .sync cause {"Build": …}: build, status, failed phase, its message and the log', () => {
    expect(describeCause(JSON.stringify({ Build: BUILD }))).toEqual(BUILD_DETAILS);
  });

  test('the same build without the Build wrapper', () => {
    expect(describeCause(JSON.stringify(BUILD))).toEqual(BUILD_DETAILS);
  });

  test('a build without phases or logs', () => {
    expect(describeCause(JSON.stringify({ Build: { Id: 'b:1', BuildStatus: 'TIMED_OUT' } }))).toEqual({ message: 'build b:1 TIMED_OUT', buildId: 'b:1', buildStatus: 'TIMED_OUT' });
  });

  test('plain text is kept (up to 1000 characters)', () => {
    expect(describeCause('no operator approved or rejected the plan within 12 h; nothing was applied')).toEqual({
      message: 'no operator approved or rejected the plan within 12 h; nothing was applied',
    });
    expect(describeCause('x'.repeat(5000)).message).toHaveLength(1000);
  });

  test('JSON that is neither shape is kept as text', () => {
    expect(describeCause('{"foo":1}')).toEqual({ message: '{"foo":1}' });
    expect(describeCause('"just a string"')).toEqual({ message: '"just a string"' });
  });

  test('no cause', () => {
    expect(describeCause(undefined)).toEqual({ message: 'no cause was given' });
    expect(describeCause('')).toEqual({ message: 'no cause was given' });
  });
});

describe('adviceFor', () => {
  test.each([
    ['InputError', 'Correct the execution input'],
    ['ConfigError', 'cdk deploy'],
    ['BundleError', 'gateway-<version>.zip'],
    ['ValuesError', 'values secret'],
    ['IdentityError', 'target account'],
    ['VersionError', 'redeploy or downgrade'],
    ['NodePoolError', 'nvidia.com/gpu'],
    ['VerificationError', 'kubectl get deployment -l apheris-component=agent -n apheris; helm test apheris-gateway -n apheris'],
    ['ApprovalRejected', 'Nothing was applied.'],
    ['ApprovalTimedOut', 'approve or reject within the approval timeout'],
    ['States.Timeout', 'took longer than allowed'],
  ])('%s', (error, words) => {
    expect(adviceFor(error)).toContain(words);
  });

  test('unknown or missing error names get the generic advice', () => {
    const generic = 'Look at the log of the failed step; start a new run once the cause is fixed.';
    expect(adviceFor('States.TaskFailed')).toBe(generic);
    expect(adviceFor(undefined)).toBe(generic);
  });

  // ADVICE is a plain object literal: an error name that is an Object.prototype member must not find a function.
  test.each(['toString', 'constructor', 'hasOwnProperty'])('an error named %s gets the generic advice, not a prototype member', (error) => {
    expect(adviceFor(error)).toBe('Look at the log of the failed step; start a new run once the cause is fixed.');
  });

  test('a step\'s own advice (the build\'s diagnosis) wins over the advice by name', () => {
    const stepAdvice = 'Make sure the Helm release is not managed by another system first. Then uninstall it (helm uninstall apheris-gateway -n apheris) and run the deployment again.';
    expect(adviceFor('States.TaskFailed', stepAdvice)).toBe(stepAdvice);
    expect(adviceFor('VerificationError', stepAdvice)).toBe(stepAdvice);
    expect(adviceFor('VerificationError', '')).toContain('helm test');
  });
});

const FAILURE: FailureFacts = {
  gateway: 'gw-prod',
  step: 'Apply',
  error: 'States.TaskFailed',
  message: 'a Helm release of that name exists on the cluster but not in the Terraform state',
  advice: 'Uninstall it (helm uninstall apheris-gateway -n apheris) and run the deployment again.',
  logLocation: DEEP_LINK,
  executionArn: 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-42',
  fromVersion: '0.8.1',
  toVersion: '0.9.0',
  applied: 'nothing',
};

describe('failureMessage', () => {
  test('step, versions, error, what happened, what to do, nothing applied, log and execution', () => {
    const { subject, text } = failureMessage({ ...FAILURE, step: 'Plan', logLocation: DEEP_LINK });
    expect(text).toBe(
      [
        'Deployment of Compute Gateway "gw-prod" (0.8.1 → 0.9.0) failed at step Plan.',
        '',
        'Error: States.TaskFailed',
        'What happened: a Helm release of that name exists on the cluster but not in the Terraform state',
        'What to do: Uninstall it (helm uninstall apheris-gateway -n apheris) and run the deployment again.',
        '',
        'Nothing was applied.',
        `Log: ${DEEP_LINK}`,
        'Execution: arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-42',
      ].join('\n'),
    );
    expect(subject).toBe('Compute Gateway gw-prod: deployment failed at Plan (States.TaskFailed)');
  });

  test('a failed Apply may have applied part of the plan: never "Nothing was applied."', () => {
    const { text } = failureMessage({ ...FAILURE, applied: 'partly' });
    expect(text).toContain('failed at step Apply.');
    expect(text).toContain('Terraform may have applied part of the plan before it failed; the state in the state bucket records what was done.');
    expect(text).not.toContain('Nothing was applied.');
  });

  test('after a finished apply, the text says the plan was applied and where the state is', () => {
    const { text } = failureMessage({ ...FAILURE, step: 'EvaluateVerification', error: 'VerificationError', applied: 'all' });
    expect(text).toContain('failed at step EvaluateVerification.');
    expect(text).toContain('Terraform applied the plan before the failure; the state is in the state bucket.');
    expect(text).not.toContain('Nothing was applied.');
  });

  test('first install shows only the target version; no version at all (Preflight) shows none', () => {
    expect(failureMessage({ ...FAILURE, fromVersion: null }).text.split('\n')[0]).toBe('Deployment of Compute Gateway "gw-prod" (0.9.0) failed at step Apply.');
    expect(failureMessage({ ...FAILURE, step: 'Preflight', fromVersion: null, toVersion: null }).text.split('\n')[0]).toBe(
      'Deployment of Compute Gateway "gw-prod" failed at step Preflight.',
    );
  });

  test('the subject stays under 100 characters (SNS limit)', () => {
    const long = failureMessage({ ...FAILURE, gateway: 'g'.repeat(60), error: 'SomeVeryLongErrorNameThatGoesOnAndOn' });
    expect(long.subject.length).toBeLessThan(100);
    expect(long.subject.endsWith('…')).toBe(true);
  });
});

const COMPLETION: CompletionFacts = {
  gateway: 'gw-prod',
  accountId: '123456789012',
  region: 'eu-central-1',
  change: 'upgrade',
  fromVersion: '0.8.1',
  toVersion: '0.9.0',
  planSummary: 'Plan: 0 to add, 2 to change, 0 to destroy.',
  approvedBy: 'arn:aws:iam::123456789012:user/alice',
  agentImage: 'quay.io/apheris/gateway-agent:0.16.20',
  agentVersion: '0.16.20',
  expectedAgentVersion: '0.16.20',
  connectivity: 'passed (connectivity test pod Succeeded)',
  capacity: '3 running computation(s) request 12Gi of 32Gi allocatable node memory (38 %).',
  finishedAt: '2024-06-01T10:00:00.000Z',
  executionArn: 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-42',
  reportUrl: 's3://gw-artifacts-123456789012/reports/gw-prod/run-42/verification.json',
};
const REPORT = { gateway: 'gw-prod', outcome: 'succeeded', toVersion: '0.9.0', capacity: { computations: 3 } };

describe('completionMessages', () => {
  test('support: greeting, what was done from → to, the checks, the seed\'s request, then the JSON report', () => {
    const { support } = completionMessages(COMPLETION, REPORT);
    const lines = support.text.split('\n');
    expect(lines[0]).toBe('Hello Apheris support,');
    expect(support.text).toContain(
      'Compute Gateway "gw-prod" (AWS account 123456789012, eu-central-1) was upgraded from 0.8.1 to 0.9.0 on 2024-06-01T10:00:00.000Z.',
    );
    expect(support.text).toContain('Terraform: Plan: 0 to add, 2 to change, 0 to destroy.');
    expect(support.text).toContain('Approved by: arn:aws:iam::123456789012:user/alice');
    expect(support.text).toContain('Agent version: 0.16.20, as communicated (0.16.20). Image: quay.io/apheris/gateway-agent:0.16.20');
    expect(support.text).toContain('Connectivity tests (helm test apheris-gateway): passed (connectivity test pod Succeeded)');
    expect(support.text).toContain('Capacity: 3 running computation(s) request 12Gi of 32Gi allocatable node memory (38 %).');
    expect(support.text).toContain('Please confirm the completion and run the smoke tests');
    expect(support.text.endsWith(`Report (JSON):\n${JSON.stringify(REPORT, null, 2)}`)).toBe(true);
    expect(support.text.indexOf('Please confirm')).toBeLessThan(support.text.indexOf('Report (JSON):'));
    // The operators' details are not for support.
    expect(support.text).not.toContain('Execution:');
  });

  test.each([
    ['install', null, 'was installed at 0.9.0'],
    ['upgrade', '0.8.1', 'was upgraded from 0.8.1 to 0.9.0'],
    ['downgrade', '1.0.0', 'was downgraded from 1.0.0 to 0.9.0'],
    ['redeploy', '0.9.0', 'was redeployed at 0.9.0'],
  ])('%s from %p: "%s"', (change, fromVersion, words) => {
    const { support, operators } = completionMessages({ ...COMPLETION, change, fromVersion }, REPORT);
    expect(support.text).toContain(words);
    expect(operators.text).toContain(words);
  });

  test('no expected agent version: the version line says it was not compared', () => {
    const { support } = completionMessages({ ...COMPLETION, expectedAgentVersion: null }, REPORT);
    expect(support.text).toContain('Agent version: 0.16.20 (not compared: no expected version was given). Image: quay.io/apheris/gateway-agent:0.16.20');
    expect(support.text).not.toContain('as communicated');
  });

  test('no capacity: no capacity line', () => {
    const { support, operators } = completionMessages({ ...COMPLETION, capacity: null }, REPORT);
    expect(support.text).not.toContain('Capacity:');
    expect(operators.text).not.toContain('Capacity:');
  });

  test('operators: the same summary, with execution and report URL, and that support was asked', () => {
    const { operators } = completionMessages(COMPLETION, REPORT);
    expect(operators.text.split('\n')[0]).toBe(
      'Compute Gateway "gw-prod" (AWS account 123456789012, eu-central-1) was upgraded from 0.8.1 to 0.9.0 on 2024-06-01T10:00:00.000Z.',
    );
    expect(operators.text).toContain(`Execution: ${COMPLETION.executionArn}`);
    expect(operators.text).toContain(`Full report: ${COMPLETION.reportUrl}`);
    expect(operators.text).toContain('Support has been asked to run the smoke tests.');
    expect(operators.text).not.toContain('Report (JSON)');
  });

  test('subjects', () => {
    const { support, operators } = completionMessages(COMPLETION, REPORT);
    expect(support.subject).toBe('Compute Gateway gw-prod upgraded to 0.9.0: please run the smoke tests');
    expect(operators.subject).toBe('Compute Gateway gw-prod: upgraded to 0.9.0, verified');
  });

  test('subjects stay under 100 characters (SNS limit)', () => {
    const long = completionMessages({ ...COMPLETION, gateway: 'g'.repeat(63), toVersion: '1.2.3-rc.4+build.567890' }, REPORT);
    expect(long.support.subject.length).toBeLessThan(100);
    expect(long.operators.subject.length).toBeLessThan(100);
    expect(long.support.subject.endsWith('…')).toBe(true);
  });
});

describe('driftMessage', () => {
  const DRIFT: DriftFacts = {
    gateway: 'gw-prod',
    version: '0.9.0',
    line: 'Plan: 1 to add, 1 to change, 1 to destroy.',
    changes: [
      { address: 'module.gateway.aws_iam_role.extra', action: 'create' },
      { address: 'module.gateway.aws_security_group_rule.egress', action: 'update' },
      { address: 'module.gateway.module.eks.aws_eks_node_group.gpu', action: 'replace' },
      { address: 'module.gateway.aws_s3_bucket_policy.logs', action: 'delete' },
      { address: 'module.gateway.data.external.odd', action: 'read' },
    ],
    changesNotListed: 0,
    planTextUrl: 's3://gw-artifacts-123456789012/plans/gw-prod/drift-1/plan.redacted.txt',
    executionArn: 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:drift-1',
  };

  test('the whole text: what drifted, each change with its mark, nothing applied, how to revert, the plan and the run', () => {
    expect(driftMessage(DRIFT).text).toBe(
      [
        'Compute Gateway "gw-prod" has drifted from its configuration and module 0.9.0.',
        '',
        'Plan: 1 to add, 1 to change, 1 to destroy.',
        '  +   module.gateway.aws_iam_role.extra',
        '  ~   module.gateway.aws_security_group_rule.egress',
        '  -/+ module.gateway.module.eks.aws_eks_node_group.gpu',
        '  -   module.gateway.aws_s3_bucket_policy.logs',
        '  read module.gateway.data.external.odd',
        '',
        'Nothing was applied. Someone or something changed the infrastructure (or the configuration changed since the',
        'last deployment). Review the plan; to put the gateway back in line, redeploy the same version:',
        '  npx gateway-deployer start --version 0.9.0 --allow-redeploy --reason "revert drift"',
        'If the change was intended, bring it into the gateway configuration instead.',
        '',
        'Full plan (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/drift-1/plan.redacted.txt',
        'Execution: arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:drift-1',
      ].join('\n'),
    );
  });

  test('changes left out of the list are counted; none left out: no such line', () => {
    expect(driftMessage({ ...DRIFT, changesNotListed: 12 }).text).toContain('\n  … and 12 more (see the full plan)\n');
    expect(driftMessage(DRIFT).text).not.toContain('more (see the full plan)');
  });

  test('subject: the gateway and the plan line, under 100 characters', () => {
    expect(driftMessage(DRIFT).subject).toBe('Compute Gateway gw-prod: drift detected. Plan: 1 to add, 1 to change, 1 to destroy.');
    const long = driftMessage({ ...DRIFT, gateway: 'g'.repeat(63) }).subject;
    expect(long.length).toBeLessThan(100);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('detachedMessage', () => {
  const DETACHED: DetachedFacts = {
    gateway: 'gw-prod',
    addresses: ['module.gateway.module.vpc.aws_vpc.this[0]', 'module.gateway.module.vpc.aws_subnet.private[0]'],
    backupUrl: 's3://gw-state-123456789012/state-backups/gw-prod/detach-1/terraform.tfstate',
    approvedBy: 'arn:aws:iam::123456789012:user/alice',
    executionArn: 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:detach-1',
  };

  test('the whole text: how many left the state, on whose approval, that nothing was destroyed, the addresses, the backup, what next', () => {
    expect(detachedMessage(DETACHED).text).toBe(
      [
        'Compute Gateway "gw-prod": 2 module.vpc resource(s) removed from the Terraform state (approved by arn:aws:iam::123456789012:user/alice).',
        'Nothing was destroyed in AWS: the VPC is now yours to manage.',
        '',
        '  module.gateway.module.vpc.aws_vpc.this[0]',
        '  module.gateway.module.vpc.aws_subnet.private[0]',
        '',
        'State backup from before the removal: s3://gw-state-123456789012/state-backups/gw-prod/detach-1/terraform.tfstate',
        '',
        'Next: set module.create_vpc = false with module.vpc_id and module.node_subnet_ids (the existing VPC and subnets)',
        'in the gateway configuration, deploy the stack, then upgrade as usual. Until then, a run with create_vpc = true',
        'would plan to create a new VPC.',
        'Execution: arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:detach-1',
      ].join('\n'),
    );
    expect(detachedMessage(DETACHED).subject).toBe('Compute Gateway gw-prod: VPC detached from the Terraform state (2 resources)');
  });

  test('no backup location reported: says where to look instead', () => {
    expect(detachedMessage({ ...DETACHED, backupUrl: null }).text).toContain('\nState backup from before the removal: (not reported; see the build log)\n');
  });

  test('zero addresses: "nothing was detached", and neither a backup nor next steps', () => {
    const { subject, text } = detachedMessage({ ...DETACHED, addresses: [] });
    expect(subject).toBe('Compute Gateway gw-prod: nothing to detach from the VPC module');
    expect(text).toBe(
      'Compute Gateway "gw-prod": the Terraform state holds no module.vpc resources; nothing was detached.\n' +
        'Execution: arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:detach-1',
    );
  });

  test('subjects stay under 100 characters (SNS limit)', () => {
    expect(detachedMessage({ ...DETACHED, gateway: 'g'.repeat(63) }).subject.length).toBeLessThan(100);
    expect(detachedMessage({ ...DETACHED, gateway: 'g'.repeat(63), addresses: [] }).subject.length).toBeLessThan(100);
  });
});
