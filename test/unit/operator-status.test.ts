import {
  anyRunning,
  approveCommand,
  currentStateOf,
  describeState,
  executionNameOfArn,
  formatStatus,
  isWaitingForApproval,
  MAIN_STATES,
  newestFirst,
  progressOf,
  statusJson,
  type ExecutionView,
  type StatusReport,
} from '../../lambdas/shared/operator/status';

const MACHINE = 'arn:aws:states:eu-central-1:123456789012:stateMachine:GatewayDeployment-gw';
const arnOf = (name: string) => `arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw:${name}`;
const AT = new Date('2024-06-01T10:00:00Z');

function execution(name: string, status: string, start: string, extra: Partial<ExecutionView> = {}): ExecutionView {
  return { name, executionArn: arnOf(name), status, startDate: new Date(start), ...extra };
}

function report(overrides: Partial<StatusReport> = {}): StatusReport {
  return { gateway: 'gw', stack: 'GatewayDeployer-gw', region: 'eu-central-1', stateMachineArn: MACHINE, at: AT, lock: null, executions: [], ...overrides };
}

describe('progress through the main states', () => {
  test('thirteen states, from ReceiveRequest to ReleaseLock', () => {
    expect(MAIN_STATES).toHaveLength(13);
    expect(MAIN_STATES[0]).toBe('ReceiveRequest');
    expect(MAIN_STATES[12]).toBe('ReleaseLock');
  });

  test.each([
    ['ReceiveRequest', '1/13 states'],
    ['AcquireLock', '2/13 states'],
    ['RequestApproval', '7/13 states'],
    ['Apply', '8/13 states'],
    ['ReleaseLock', '13/13 states'],
  ])('%s is %s', (state, progress) => expect(progressOf(state)).toBe(progress));

  test('a state off the main path has no progress', () => {
    expect(progressOf('NotifyFailure')).toBeUndefined();
    expect(progressOf('apply')).toBeUndefined();
  });

  test('describeState: the name, with progress when known', () => {
    expect(describeState('Verify')).toBe('Verify (9/13 states)');
    expect(describeState('NotifyFailure')).toBe('NotifyFailure');
    expect(describeState(null)).toBe('unknown');
    expect(describeState(undefined)).toBe('unknown');
  });
});

describe('currentStateOf', () => {
  const events = [
    { id: 9, type: 'TaskScheduled' },
    { id: 8, type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Plan' } },
    { id: 7, type: 'TaskStateExited', stateExitedEventDetails: { name: 'RenderWorkspace' } },
    { id: 3, type: 'PassStateEntered', stateEnteredEventDetails: { name: 'ReceiveRequest' } },
  ];

  test('the newest StateEntered event (reverse order, as the CLI asks)', () => {
    expect(currentStateOf(events)).toBe('Plan');
  });

  test('the same in ascending order: by event id, not position', () => {
    expect(currentStateOf([...events].reverse())).toBe('Plan');
  });

  test('no StateEntered event in the page: null', () => {
    expect(currentStateOf([{ id: 1, type: 'ExecutionStarted' }])).toBeNull();
    expect(currentStateOf([])).toBeNull();
  });

  test('events without ids: the later position wins', () => {
    expect(currentStateOf([{ type: 'PassStateEntered', stateEnteredEventDetails: { name: 'A' } }, { type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'B' } }])).toBe('B');
  });
});

describe('small helpers', () => {
  test('anyRunning', () => {
    expect(anyRunning({ executions: [execution('a', 'SUCCEEDED', '2024-06-01T09:00:00Z')] })).toBe(false);
    expect(anyRunning({ executions: [execution('a', 'FAILED', '2024-06-01T09:00:00Z'), execution('b', 'RUNNING', '2024-06-01T09:10:00Z')] })).toBe(true);
    expect(anyRunning({ executions: [] })).toBe(false);
  });

  test('isWaitingForApproval: running and in RequestApproval', () => {
    expect(isWaitingForApproval(execution('a', 'RUNNING', '2024-06-01T09:00:00Z', { currentState: 'RequestApproval' }))).toBe(true);
    expect(isWaitingForApproval(execution('a', 'RUNNING', '2024-06-01T09:00:00Z', { currentState: 'ApproveUninstall' }))).toBe(true);
    expect(isWaitingForApproval(execution('a', 'RUNNING', '2024-06-01T09:00:00Z', { currentState: 'Apply' }))).toBe(false);
    expect(isWaitingForApproval(execution('a', 'RUNNING', '2024-06-01T09:00:00Z', { currentState: null }))).toBe(false);
    expect(isWaitingForApproval(execution('a', 'ABORTED', '2024-06-01T09:00:00Z', { currentState: 'RequestApproval' }))).toBe(false);
  });

  test('approveCommand names the stack and region that found the run', () => {
    expect(approveCommand('cli-0-9-0-1', { stack: 'GatewayDeployer-gw', region: 'eu-central-1' })).toBe(
      'npx gateway-deployer approve --stack GatewayDeployer-gw --region eu-central-1 --execution cli-0-9-0-1 --reason "<why>"',
    );
  });

  test('executionNameOfArn', () => expect(executionNameOfArn(arnOf('run-7'))).toBe('run-7'));

  test('newestFirst sorts by start and applies the limit', () => {
    const list = [execution('old', 'SUCCEEDED', '2024-05-01T00:00:00Z'), execution('new', 'RUNNING', '2024-06-01T00:00:00Z'), execution('mid', 'FAILED', '2024-05-15T00:00:00Z')];
    expect(newestFirst(list, 2).map((e) => e.name)).toEqual(['new', 'mid']);
  });
});

describe('formatStatus', () => {
  test('no lock, no executions: how to start one', () => {
    expect(formatStatus(report())).toEqual([
      'Gateway gw: stack GatewayDeployer-gw in eu-central-1, at 2024-06-01 10:00:00Z',
      'Lock: free',
      '',
      `No executions of ${MACHINE} yet: start one with \`npx gateway-deployer start --version <semver>\``,
    ]);
  });

  test('a running execution waiting for approval, and a finished one', () => {
    const lines = formatStatus(
      report({
        lock: { executionArn: arnOf('cli-0-9-0-20240601093000'), acquiredAt: '2024-06-01T09:30:01Z', holderStatus: 'RUNNING' },
        executions: [
          execution('cli-0-9-0-20240601093000', 'RUNNING', '2024-06-01T09:30:00Z', { currentState: 'RequestApproval' }),
          execution('cli-0-8-1-20240501080000', 'SUCCEEDED', '2024-05-01T08:00:00Z', { stopDate: new Date('2024-05-01T08:12:34Z') }),
        ],
      }),
    );
    expect(lines).toEqual([
      'Gateway gw: stack GatewayDeployer-gw in eu-central-1, at 2024-06-01 10:00:00Z',
      'Lock: held by cli-0-9-0-20240601093000 since 2024-06-01 09:30:01Z (RUNNING)',
      '',
      'EXECUTION                 STATUS     STARTED               STOPPED               DURATION        CURRENT STATE',
      'cli-0-9-0-20240601093000  RUNNING    2024-06-01 09:30:00Z  -                     30m 00s so far  RequestApproval (7/13 states)',
      'cli-0-8-1-20240501080000  SUCCEEDED  2024-05-01 08:00:00Z  2024-05-01 08:12:34Z  12m 34s',
      '',
      'cli-0-9-0-20240601093000 is waiting for approval: npx gateway-deployer approve --stack GatewayDeployer-gw --region eu-central-1 --execution cli-0-9-0-20240601093000 --reason "<why>"',
    ]);
  });

  test('a state off the main path shows only its name; an unknown state says so', () => {
    const lines = formatStatus(
      report({
        executions: [
          execution('a', 'RUNNING', '2024-06-01T09:59:00Z', { currentState: 'NotifyFailure' }),
          execution('b', 'RUNNING', '2024-06-01T09:59:30Z', { currentState: null }),
        ],
      }),
    );
    expect(lines.find((l) => l.startsWith('a '))).toMatch(/1m 00s so far\s+NotifyFailure$/);
    expect(lines.find((l) => l.startsWith('b '))).toMatch(/30s so far\s+unknown$/);
    expect(lines.join('\n')).not.toContain('waiting for approval');
  });

  test('a lock left by a stopped run: who, and that the next run takes it over', () => {
    const [, lockLine] = formatStatus(report({ lock: { executionArn: arnOf('crashed'), acquiredAt: '2024-05-31T23:00:00Z', holderStatus: 'ABORTED' } }));
    expect(lockLine).toBe('Lock: held by crashed since 2024-05-31 23:00:00Z (ABORTED); the next run takes it over');
  });

  test('a lock naming an execution Step Functions does not know', () => {
    const [, lockLine] = formatStatus(report({ lock: { executionArn: arnOf('gone'), acquiredAt: '', holderStatus: 'MISSING' } }));
    expect(lockLine).toBe('Lock: held by gone since - (unknown to Step Functions); the next run takes it over');
  });
});

describe('statusJson', () => {
  test('ISO times, durations in seconds, progress as numbers', () => {
    const json = statusJson(
      report({
        lock: { executionArn: arnOf('r'), acquiredAt: '2024-06-01T09:30:01Z', holderStatus: 'RUNNING' },
        executions: [
          execution('r', 'RUNNING', '2024-06-01T09:30:00Z', { currentState: 'Apply' }),
          execution('s', 'FAILED', '2024-05-01T08:00:00Z', { stopDate: new Date('2024-05-01T08:01:00Z') }),
        ],
      }),
    );
    expect(json).toEqual({
      gateway: 'gw',
      stack: 'GatewayDeployer-gw',
      region: 'eu-central-1',
      stateMachineArn: MACHINE,
      at: '2024-06-01T10:00:00.000Z',
      lock: { executionArn: arnOf('r'), acquiredAt: '2024-06-01T09:30:01Z', holderStatus: 'RUNNING' },
      executions: [
        {
          name: 'r',
          executionArn: arnOf('r'),
          status: 'RUNNING',
          startDate: '2024-06-01T09:30:00.000Z',
          stopDate: null,
          durationSeconds: 1800,
          currentState: 'Apply',
          progress: { step: 8, of: 13 },
          waitingForApproval: false,
        },
        { name: 's', executionArn: arnOf('s'), status: 'FAILED', startDate: '2024-05-01T08:00:00.000Z', stopDate: '2024-05-01T08:01:00.000Z', durationSeconds: 60 },
      ],
    });
  });

  test('a running execution off the main path: progress null', () => {
    const [e] = statusJson(report({ executions: [execution('r', 'RUNNING', '2024-06-01T09:30:00Z', { currentState: 'NotifyFailure' })] })).executions as Array<Record<string, unknown>>;
    expect(e).toMatchObject({ currentState: 'NotifyFailure', progress: null, waitingForApproval: false });
  });

  test('it is plain JSON', () => {
    const json = statusJson(report({ executions: [execution('r', 'RUNNING', '2024-06-01T09:30:00Z', { currentState: 'RequestApproval' })] }));
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect((json.executions as Array<Record<string, unknown>>)[0].waitingForApproval).toBe(true);
  });
});
