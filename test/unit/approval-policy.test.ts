/**
 * Who answers the seed's "Do you want to perform these actions? Only 'yes' will be accepted": an operator,
 * unless the configuration lets an S3-triggered upgrade through and the plan gives no reason to look.
 */
import { decideApproval, type ApprovalPolicy, type RunFacts } from '../../lambdas/shared/domain/approval';
import type { PlanSummary, RiskLevel, RiskVerdict } from '../../lambdas/shared/domain/plan';
import type { VersionChange } from '../../lambdas/shared/domain/versions';

function summary(add: number, change: number, destroy: number, hasChanges = add + change + destroy > 0): PlanSummary {
  return {
    add,
    change,
    destroy,
    line: `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.`,
    hasChanges,
    changes: [],
    replaced: [],
    outputsChanged: [],
  };
}

const risk = (level: RiskLevel, reasons: string[] = []): RiskVerdict => ({ level, reasons });
const run = (trigger: string, change: VersionChange): RunFacts => ({ trigger, change });
const ON: ApprovalPolicy = { autoApproveS3Upgrades: true };
const OFF: ApprovalPolicy = { autoApproveS3Upgrades: false };

const CHANGES: VersionChange[] = ['install', 'upgrade', 'redeploy', 'downgrade'];

describe('decideApproval: no changes', () => {
  test.each([
    ['policy off, console install', OFF, run('console', 'install')],
    ['policy on, s3 upgrade', ON, run('s3', 'upgrade')],
    ['policy on, cli downgrade', ON, run('cli', 'downgrade')],
    ['policy off, s3 redeploy', OFF, run('s3', 'redeploy')],
  ])('%s → no-changes', (_name, policy, facts) => {
    expect(decideApproval(summary(0, 0, 0), risk('none'), facts, policy)).toEqual({
      decision: 'no-changes',
      because: 'the plan has no changes',
    });
  });

  test('a plan that only changes outputs has changes: it is not "no-changes"', () => {
    const verdict = decideApproval(summary(0, 0, 0, true), risk('low'), run('s3', 'upgrade'), ON);
    expect(verdict.decision).toBe('auto-approve');
  });
});

describe('decideApproval: the policy is off', () => {
  test.each(CHANGES.flatMap((change) => ['s3', 'console', 'cli'].map((trigger) => [trigger, change] as const)))(
    'trigger %s, %s → ask',
    (trigger, change) => {
      const verdict = decideApproval(summary(1, 0, 0), risk('low'), run(trigger, change), OFF);
      expect(verdict.decision).toBe('ask');
      expect(verdict.because).toBe('every plan is approved by an operator (approval.autoApproveS3Upgrades is off)');
    },
  );
});

describe('decideApproval: the policy is on', () => {
  test.each(['console', 'cli'])('a run started from the %s → ask, naming the trigger', (trigger) => {
    const verdict = decideApproval(summary(2, 1, 0), risk('low'), run(trigger, 'upgrade'), ON);
    expect(verdict.decision).toBe('ask');
    expect(verdict.because).toBe(`runs started from the ${trigger} are approved by an operator`);
  });

  test.each(['install', 'redeploy', 'downgrade'] as const)('an s3 %s → ask, naming the change', (change) => {
    const verdict = decideApproval(summary(2, 1, 0), risk('low'), run('s3', change), ON);
    expect(verdict.decision).toBe('ask');
    expect(verdict.because).toContain(change);
    expect(verdict.because).toContain('approved by an operator');
  });

  test('a run on the deployed version (detach-vpc, drift-check) is never auto-approved, and says so in words', () => {
    const verdict = decideApproval(summary(2, 1, 0), risk('low'), run('s3', 'same'), ON);
    expect(verdict).toEqual({ decision: 'ask', because: 'a run on the deployed version is approved by an operator' });
  });

  test.each([1, 3])('an s3 upgrade whose plan destroys %d resource(s) → ask, with the count', (destroy) => {
    // Risk "low" on purpose: the destroy count alone is reason enough to ask.
    const verdict = decideApproval(summary(1, 0, destroy), risk('low'), run('s3', 'upgrade'), ON);
    expect(verdict).toEqual({ decision: 'ask', because: `the plan destroys ${destroy} resource(s)` });
  });

  test.each(['medium', 'high'] as const)('an s3 upgrade with a %s-risk plan → ask, with the level', (level) => {
    const verdict = decideApproval(summary(1, 1, 0), risk(level, ['replaces something']), run('s3', 'upgrade'), ON);
    expect(verdict).toEqual({ decision: 'ask', because: `the plan is ${level} risk` });
  });

  test('an s3 upgrade, low risk, nothing destroyed → auto-approve', () => {
    const verdict = decideApproval(summary(3, 2, 0), risk('low'), run('s3', 'upgrade'), ON);
    expect(verdict).toEqual({
      decision: 'auto-approve',
      because: 'an S3-triggered upgrade whose plan is low risk and destroys nothing',
    });
  });

  test('the first reason to ask wins: a console downgrade with destroys is asked because of the trigger', () => {
    const verdict = decideApproval(summary(1, 0, 4), risk('high', ['destroys the EKS cluster: x']), run('console', 'downgrade'), ON);
    expect(verdict).toEqual({ decision: 'ask', because: 'runs started from the console are approved by an operator' });
  });
});
