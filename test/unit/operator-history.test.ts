import { approvedByText, formatHistory, historyEntryFromItem, newestRecordsFirst, outcomeText, versionChange, type HistoryEntry } from '../../lambdas/shared/operator/history-view';

const OPERATOR = 'arn:aws:sts::123456789012:assumed-role/GatewayApprover/alice';

describe('historyEntryFromItem', () => {
  test('the string attributes, without pk and sk', () => {
    expect(
      historyEntryFromItem({
        pk: { S: 'GATEWAY#gw' },
        sk: { S: 'RUN#2024-06-01T09:30:00Z#run-1' },
        outcome: { S: 'succeeded' },
        toVersion: { S: '0.9.0' },
        expiresAt: { N: '1' } as { S?: string },
        missing: undefined,
      }),
    ).toEqual({ outcome: 'succeeded', toVersion: '0.9.0' });
  });
});

describe('versionChange', () => {
  test.each<[HistoryEntry, string]>([
    [{ fromVersion: '0.8.1', toVersion: '0.9.0', change: 'upgrade' }, '0.8.1 → 0.9.0 (upgrade)'],
    [{ toVersion: '0.8.1', change: 'install' }, '→ 0.8.1 (install)'],
    [{ fromVersion: '0.9.0', toVersion: '0.9.0', change: 'redeploy' }, '0.9.0 (redeploy)'],
    [{ fromVersion: '0.9.0', toVersion: '0.8.1', change: 'downgrade' }, '0.9.0 → 0.8.1 (downgrade)'],
    [{ fromVersion: '0.9.0', toVersion: '0.9.1' }, '0.9.0 → 0.9.1'],
    [{ fromVersion: '0.9.0' }, '0.9.0 → ?'],
    [{}, '-'],
    [{ change: 'drift-check' }, 'drift-check'],
    [{ operation: 'drift-check', fromVersion: '0.9.0', toVersion: '0.9.0' }, 'drift-check of 0.9.0'],
    [{ operation: 'detach-vpc' }, 'detach-vpc'],
    [{ operation: 'deploy', fromVersion: '0.8.1', toVersion: '0.9.0', change: 'upgrade' }, '0.8.1 → 0.9.0 (upgrade)'],
  ])('%j → %s', (record, text) => expect(versionChange(record)).toBe(text));
});

describe('outcomeText', () => {
  test('succeeded', () => expect(outcomeText({ outcome: 'succeeded' })).toBe('succeeded'));
  test('failed, with step and error', () => expect(outcomeText({ outcome: 'failed', failedStep: 'Apply', error: 'StaleTerraformPlan' })).toBe('failed at Apply: StaleTerraformPlan'));
  test('failed, step only', () => expect(outcomeText({ outcome: 'failed', failedStep: 'Preflight' })).toBe('failed at Preflight'));
  test('failed, nothing more known', () => expect(outcomeText({ outcome: 'failed' })).toBe('failed'));
  test('no outcome', () => expect(outcomeText({})).toBe('-'));
});

describe('approvedByText', () => {
  test('an ARN without its account head', () => expect(approvedByText({ approvedBy: OPERATOR })).toBe('assumed-role/GatewayApprover/alice'));
  test('not an ARN: as recorded', () => expect(approvedByText({ approvedBy: 'not needed: no changes' })).toBe('not needed: no changes'));
  test('nobody', () => expect(approvedByText({})).toBe('-'));
});

describe('formatHistory', () => {
  test('nothing recorded', () => {
    expect(formatHistory('gw', [])).toEqual(['No deployments recorded for gateway gw yet.']);
  });

  test('a table, newest first', () => {
    const lines = formatHistory('gw', [
      { startedAt: '2024-05-01T08:00:00.000Z', fromVersion: '', toVersion: '0.8.1', change: 'install', outcome: 'succeeded', approvedBy: OPERATOR, trigger: 'console', executionName: 'first' },
      { startedAt: '2024-06-01T09:30:00.000Z', fromVersion: '0.8.1', toVersion: '0.9.0', change: 'upgrade', outcome: 'failed', failedStep: 'Verify', error: 'VerificationError', trigger: 'cli', executionName: 'second' },
    ]);
    expect(lines).toEqual([
      'Deployments of gateway gw, newest first:',
      '',
      'STARTED               VERSION                  OUTCOME                              APPROVED BY                         TRIGGER  EXECUTION',
      '2024-06-01 09:30:00Z  0.8.1 → 0.9.0 (upgrade)  failed at Verify: VerificationError  -                                   cli      second',
      '2024-05-01 08:00:00Z  → 0.8.1 (install)        succeeded                            assumed-role/GatewayApprover/alice  console  first',
    ]);
  });

  test('newestRecordsFirst orders by startedAt', () => {
    expect(newestRecordsFirst([{ startedAt: '2024-01-01' }, { startedAt: '2024-03-01' }, { startedAt: '2024-02-01' }]).map((r) => r.startedAt)).toEqual(['2024-03-01', '2024-02-01', '2024-01-01']);
  });
});
