/**
 * Preflight's warnings reach operators: in the approval request, the final notice (success or failure) and
 * `status`, never only a log line. The support mail is about the completion and does not carry them.
 */
import { approvalRequestMessage, completionMessages, failureMessage, warningLines } from '../../lambdas/shared/domain/messages';
import { deploymentRecord } from '../../lambdas/shared/domain/history';
import { formatStatus, statusJson, type StatusReport } from '../../lambdas/shared/operator/status';
import type { RunState } from '../../lambdas/shared/domain/run-state';

const WARNINGS = [
  'the node subnets have 120 free IP addresses together, fewer than 254 (vpcReuse.minFreeSubnetAddresses)',
  'node pool "gpu" has GPU instance families (g5) but module.enable_nvidia_gpu is not true',
];

test('warningLines: a block with each warning, or nothing at all', () => {
  expect(warningLines([])).toEqual([]);
  expect(warningLines(undefined)).toEqual([]);
  expect(warningLines(WARNINGS)).toEqual(['Warnings (the run went on; check them):', `  ! ${WARNINGS[0]}`, `  ! ${WARNINGS[1]}`, '']);
});

test('the approval request shows them before the changes, for the approver to weigh', () => {
  const base = {
    gateway: 'gw', executionName: 'run', stackName: 'S', region: 'eu-central-1', fromVersion: '1.0.0', toVersion: '1.1.0', change: 'upgrade',
    line: 'Plan: 1 to add, 0 to change, 0 to destroy.', changes: [], changesNotListed: 0, riskLevel: 'low', riskReasons: [], because: 'every plan',
    planTextUrl: 's3://a/t', planJsonUrl: 's3://a/j', timeoutHours: 24, planSha256: 'a'.repeat(64),
  };
  const text = approvalRequestMessage({ ...base, warnings: WARNINGS }).text;
  expect(text.indexOf(`  ! ${WARNINGS[0]}`)).toBeGreaterThan(0);
  expect(text.indexOf(`  ! ${WARNINGS[1]}`)).toBeLessThan(text.indexOf('Changes:'));
  expect(approvalRequestMessage(base).text).not.toContain('Warnings');
});

test('the success notice tells operators; the support mail does not carry them', () => {
  const facts = {
    gateway: 'gw', accountId: '1', region: 'r', change: 'upgrade', fromVersion: '1.0.0', toVersion: '1.1.0', planSummary: '', approvedBy: 'a',
    agentImage: 'i', agentVersion: '0.16.20', expectedAgentVersion: null, connectivity: 'passed', capacity: null, finishedAt: 't', executionArn: 'e', reportUrl: 'u',
  };
  const { operators, support } = completionMessages({ ...facts, warnings: WARNINGS }, {});
  expect(operators.text).toContain(`  ! ${WARNINGS[1]}`);
  expect(support.text).not.toContain(WARNINGS[1]);
});

test('the failure notice tells them too (one may be the cause)', () => {
  const text = failureMessage({
    gateway: 'gw', step: 'Verify', error: 'VerificationError', message: 'm', advice: 'a', logLocation: 'l', executionArn: 'e', fromVersion: null, toVersion: '1.0.0', applied: 'all', warnings: WARNINGS,
  }).text;
  expect(text).toContain(`  ! ${WARNINGS[0]}`);
});

test('the run record keeps them, one per line, and status shows those of the deployed run', () => {
  const state: RunState = {
    preflight: { gateway: 'gw', version: '1.1.0', change: 'upgrade', previousVersion: '1.0.0', bundle: { key: 'k', sha256: 's' }, trigger: 'cli', warnings: WARNINGS },
  };
  const record = deploymentRecord(state, { executionArn: 'arn', executionName: 'run', startTime: 't' }, 'gw', 'succeeded', 't2');
  expect(record.warnings).toBe(WARNINGS.join('\n'));
  expect(deploymentRecord({}, { executionArn: 'arn', executionName: 'run', startTime: 't' }, 'gw', 'failed', 't2').warnings).toBe('');

  const report: StatusReport = {
    gateway: 'gw', stack: 'S', region: 'r', stateMachineArn: 'm', at: new Date('2026-12-05T08:00:00Z'), lock: null, executions: [],
    deployed: { version: '1.1.0', verification: 'verified', warnings: record.warnings.split('\n') },
  };
  const lines = formatStatus(report);
  expect(lines.slice(1, 4)).toEqual(['Deployed: 1.1.0, verified', `  warning: ${WARNINGS[0]}`, `  warning: ${WARNINGS[1]}`]);
  expect(statusJson(report).deployed).toMatchObject({ warnings: WARNINGS });
});
