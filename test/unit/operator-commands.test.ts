/** The commands' flow with fake ports: what is called, in which order, and what is refused before any start. */
import type { Target } from '../../lambdas/shared/operator/cli-commands';
import { discover, runHistory, runStart, runStatus, type OperatorPorts } from '../../lambdas/shared/operator/commands';
import type { HistoryEntry } from '../../lambdas/shared/operator/history-view';
import type { ExecutionView } from '../../lambdas/shared/operator/status';
import { rejection } from '../support/operator-errors';

const TARGET: Target = { gateway: 'gw', stack: 'GatewayDeployer-gw', region: 'eu-central-1' };
const MACHINE = 'arn:aws:states:eu-central-1:123456789012:stateMachine:GatewayDeployment-gw';
const arnOf = (name: string) => `arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw:${name}`;
const NOW = new Date('2024-06-01T09:30:00Z');
const OUTPUTS = [
  { OutputKey: 'StateMachineArn', OutputValue: MACHINE },
  { OutputKey: 'DeploymentsTableName', OutputValue: 'table' },
  { OutputKey: 'ArtifactsBucketName', OutputValue: 'bucket' },
];

function fakePorts(overrides: Partial<OperatorPorts> = {}) {
  const printed: string[] = [];
  const started: Array<{ stateMachineArn: string; name: string; input: string }> = [];
  const sleeps: number[] = [];
  const ports: OperatorPorts = {
    region: async () => 'eu-central-1',
    stackOutputs: async () => OUTPUTS,
    readLock: async () => null,
    readDeployed: async () => null,
    executionStatus: async () => 'MISSING',
    startExecution: async (stateMachineArn, name, input) => {
      started.push({ stateMachineArn, name, input });
      return { executionArn: arnOf(name) };
    },
    listExecutions: async () => [],
    currentState: async () => null,
    history: async () => [],
    now: () => NOW,
    sleep: async (ms) => void sleeps.push(ms),
    print: (line) => void printed.push(line),
    ...overrides,
  };
  return { ports, printed, started, sleeps };
}

describe('discover', () => {
  test('the region and the outputs', async () => {
    const d = await discover(TARGET, fakePorts().ports, ['StateMachineArn']);
    expect(d.region).toBe('eu-central-1');
    expect(d.outputs.StateMachineArn).toBe(MACHINE);
    expect(d.outputs.ArtifactsBucketName).toBe('bucket');
  });

  test('a missing stack: deploy it first, exit 2', async () => {
    const missing = Object.assign(new Error('Stack with id GatewayDeployer-gw does not exist'), { name: 'ValidationError' });
    const { ports } = fakePorts({ stackOutputs: async () => Promise.reject(missing) });
    const error = await rejection(discover(TARGET, ports, ['StateMachineArn']));
    expect(error.message).toMatch(/^stack GatewayDeployer-gw not found in eu-central-1: deploy it first with `npx cdk deploy`/);
    expect(error.exitCode).toBe(2);
  });

  test('no credentials: said before anything else, exit 2', async () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const { ports } = fakePorts({ stackOutputs: async () => Promise.reject(noCredentials) });
    const error = await rejection(discover(TARGET, ports, ['StateMachineArn']));
    expect(error.message).toContain('AWS_PROFILE');
    expect(error.exitCode).toBe(2);
  });

  test('no region', async () => {
    const { ports } = fakePorts({ region: async () => Promise.reject(new Error('Region is missing')) });
    expect((await rejection(discover(TARGET, ports, ['StateMachineArn']))).message).toContain('pass --region');
  });

  test('a missing output is named', async () => {
    const { ports } = fakePorts({ stackOutputs: async () => OUTPUTS.filter((o) => o.OutputKey !== 'DeploymentsTableName') });
    expect((await rejection(discover(TARGET, ports, ['StateMachineArn', 'DeploymentsTableName']))).message).toContain('has no output DeploymentsTableName');
  });
});

describe('runStart', () => {
  test('starts with the built input and a deterministic name, prints ARN and console link', async () => {
    const fake = fakePorts();
    const result = await runStart(TARGET, { version: '0.9.0', reason: 'ticket 1', expectedAgentVersion: '0.16.20' }, fake.ports);

    expect(fake.started).toEqual([{ stateMachineArn: MACHINE, name: 'cli-0-9-0-20240601093000', input: expect.any(String) }]);
    expect(JSON.parse(fake.started[0].input)).toEqual({ version: '0.9.0', expectedAgentVersion: '0.16.20', reason: 'ticket 1', trigger: 'cli' });
    expect(result).toEqual({
      executionArn: arnOf('cli-0-9-0-20240601093000'),
      executionName: 'cli-0-9-0-20240601093000',
      input: JSON.parse(fake.started[0].input),
      consoleUrl: `https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/${arnOf('cli-0-9-0-20240601093000')}`,
    });
    expect(fake.printed.join('\n')).toContain(arnOf('cli-0-9-0-20240601093000'));
    expect(fake.printed.join('\n')).toContain(result.consoleUrl);
    expect(fake.printed.join('\n')).toContain('npx gateway-deployer status --watch --stack GatewayDeployer-gw --region eu-central-1');
  });

  test('an invalid input is refused before any AWS call', async () => {
    const stackOutputs = jest.fn(async () => OUTPUTS);
    const fake = fakePorts({ stackOutputs });
    const error = await rejection(runStart(TARGET, { version: '0.9.0', sha256: 'abc' }, fake.ports));
    expect(error.message).toContain('--sha256 (bundleSha256)');
    expect(error.exitCode).toBe(1);
    expect(stackOutputs).not.toHaveBeenCalled();
    expect(fake.started).toEqual([]);
  });

  test('a lock held by a RUNNING execution: refused, nothing started', async () => {
    const holder = arnOf('cli-0-8-1-20240601090000');
    const readLock = jest.fn(async () => ({ executionArn: holder, acquiredAt: '2024-06-01T09:00:01Z' }));
    const executionStatus = jest.fn(async () => 'RUNNING');
    const fake = fakePorts({ readLock, executionStatus });
    const error = await rejection(runStart(TARGET, { version: '0.9.0' }, fake.ports));
    expect(error.message).toMatch(new RegExp(`^deployment in progress: ${holder}`));
    expect(error.exitCode).toBe(1);
    expect(readLock).toHaveBeenCalledWith('table', 'gw');
    expect(executionStatus).toHaveBeenCalledWith(holder);
    expect(fake.started).toEqual([]);
  });

  test.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'MISSING'])('a lock left by a %s execution: started, with a note', async (status) => {
    const fake = fakePorts({ readLock: async () => ({ executionArn: arnOf('old'), acquiredAt: '' }), executionStatus: async () => status });
    await runStart(TARGET, { version: '0.9.0' }, fake.ports);
    expect(fake.started).toHaveLength(1);
    expect(fake.printed[0]).toBe(`Note: the lock is still held by ${arnOf('old')} (${status}); the new run takes it over.`);
  });

  test('another operation: in the input and the name', async () => {
    const fake = fakePorts();
    const result = await runStart(TARGET, { operation: 'drift-check', reason: 'weekly' }, fake.ports);
    expect(JSON.parse(fake.started[0].input)).toEqual({ operation: 'drift-check', reason: 'weekly', trigger: 'cli' });
    expect(result.executionName).toBe('cli-drift-check-20240601093000');
    expect(fake.printed[0]).toBe('Started drift-check for gateway gw: execution cli-drift-check-20240601093000');
  });

  test('a name already taken with another input (two starts in one second)', async () => {
    const taken = Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' });
    const fake = fakePorts({ startExecution: async () => Promise.reject(taken) });
    expect((await rejection(runStart(TARGET, { version: '0.9.0' }, fake.ports))).message).toBe(
      'an execution named cli-0-9-0-20240601093000 already exists with another input; wait a second and start again',
    );
  });

  test('any other StartExecution failure passes unchanged', async () => {
    const denied = Object.assign(new Error('not authorized to perform states:StartExecution'), { name: 'AccessDeniedException' });
    const fake = fakePorts({ startExecution: async () => Promise.reject(denied) });
    await expect(runStart(TARGET, { version: '0.9.0' }, fake.ports)).rejects.toBe(denied);
  });
});

describe('runStatus', () => {
  const running = (state: string): ExecutionView => ({ name: 'r', executionArn: arnOf('r'), status: 'RUNNING', startDate: new Date('2024-06-01T09:00:00Z'), currentState: state });
  const done: ExecutionView = { name: 'r', executionArn: arnOf('r'), status: 'SUCCEEDED', startDate: new Date('2024-06-01T09:00:00Z'), stopDate: new Date('2024-06-01T09:20:00Z') };

  test('lock and executions; the current state only asked for running ones', async () => {
    const currentState = jest.fn(async () => 'RequestApproval');
    const older: ExecutionView = { name: 'o', executionArn: arnOf('o'), status: 'FAILED', startDate: new Date('2024-05-01T00:00:00Z'), stopDate: new Date('2024-05-01T00:05:00Z') };
    const executionStatus = jest.fn(async () => 'RUNNING');
    const fake = fakePorts({
      readLock: async () => ({ executionArn: arnOf('r'), acquiredAt: '2024-06-01T09:00:01Z' }),
      listExecutions: async () => [older, { ...running('x'), currentState: undefined }],
      currentState,
      executionStatus,
    });
    const report = await runStatus(TARGET, { limit: 5 }, fake.ports);

    expect(currentState).toHaveBeenCalledTimes(1);
    expect(currentState).toHaveBeenCalledWith(arnOf('r'));
    // The holder is among the listed executions: no DescribeExecution needed.
    expect(executionStatus).not.toHaveBeenCalled();
    expect(report.lock).toEqual({ executionArn: arnOf('r'), acquiredAt: '2024-06-01T09:00:01Z', holderStatus: 'RUNNING' });
    expect(report.executions.map((e) => e.name)).toEqual(['r', 'o']);
    const text = fake.printed.join('\n');
    expect(text).toContain('RequestApproval (7/13 states)');
    expect(text).toContain('r is waiting for approval: npx gateway-deployer approve --stack GatewayDeployer-gw --region eu-central-1 --execution r');
  });

  test('a lock holder not among the listed executions is described', async () => {
    const executionStatus = jest.fn(async () => 'ABORTED');
    const fake = fakePorts({ readLock: async () => ({ executionArn: arnOf('ancient'), acquiredAt: '' }), executionStatus });
    const report = await runStatus(TARGET, { limit: 5 }, fake.ports);
    expect(executionStatus).toHaveBeenCalledWith(arnOf('ancient'));
    expect(report.lock?.holderStatus).toBe('ABORTED');
  });

  test('the limit is passed to ListExecutions and applied', async () => {
    const listExecutions = jest.fn(async () => [done, { ...done, name: 'b', executionArn: arnOf('b') }]);
    const fake = fakePorts({ listExecutions });
    const report = await runStatus(TARGET, { limit: 1 }, fake.ports);
    expect(listExecutions).toHaveBeenCalledWith(MACHINE, 1);
    expect(report.executions).toHaveLength(1);
  });

  test('--watch: looks again every interval until nothing runs', async () => {
    const looks = [[running('Plan')], [running('Apply')], [done]];
    const listExecutions = jest.fn(async () => looks.shift() ?? []);
    const fake = fakePorts({ listExecutions, currentState: async () => 'Plan' });
    const report = await runStatus(TARGET, { limit: 5, watch: true, intervalSeconds: 7 }, fake.ports);

    expect(listExecutions).toHaveBeenCalledTimes(3);
    expect(fake.sleeps).toEqual([7000, 7000]);
    expect(report.executions[0].status).toBe('SUCCEEDED');
    expect(fake.printed.filter((l) => l.startsWith('Gateway gw:'))).toHaveLength(3);
  });

  test('without --watch: one look even while running', async () => {
    const fake = fakePorts({ listExecutions: async () => [running('Plan')] });
    await runStatus(TARGET, { limit: 5 }, fake.ports);
    expect(fake.sleeps).toEqual([]);
  });

  test('--json: one JSON document', async () => {
    const fake = fakePorts({ listExecutions: async () => [done] });
    await runStatus(TARGET, { limit: 5, json: true }, fake.ports);
    expect(fake.printed).toHaveLength(1);
    expect(JSON.parse(fake.printed[0])).toMatchObject({ gateway: 'gw', lock: null, executions: [{ name: 'r', status: 'SUCCEEDED', durationSeconds: 1200 }] });
  });

  test('the deployed version, with its verification: an applied but unverified upgrade says so', async () => {
    const fake = fakePorts({
      readDeployed: async () => ({
        version: '1.3.0',
        verification: 'not verified: failed at EvaluateVerification (VerificationError)',
        deployedAt: '2024-06-01T09:20:00Z',
        executionArn: arnOf('cli-1-3-0-20240601090000'),
      }),
    });
    await runStatus(TARGET, { limit: 5 }, fake.ports);
    expect(fake.printed[1]).toBe(
      'Deployed: 1.3.0, not verified: failed at EvaluateVerification (VerificationError), applied 2024-06-01 09:20:00Z by cli-1-3-0-20240601090000',
    );
    const json = fakePorts({ readDeployed: async () => ({ version: '1.2.0', verification: 'verified' }) });
    await runStatus(TARGET, { limit: 5, json: true }, json.ports);
    expect(JSON.parse(json.printed[0]).deployed).toEqual({ version: '1.2.0', verification: 'verified' });
  });

  test('nothing deployed yet: said so', async () => {
    const fake = fakePorts();
    await runStatus(TARGET, { limit: 5 }, fake.ports);
    expect(fake.printed[1]).toBe('Deployed: nothing yet (the first run is an install)');
  });

  test('--json --watch: one JSON line per look', async () => {
    const looks = [[running('Plan')], [done]];
    const fake = fakePorts({ listExecutions: async () => looks.shift() ?? [], currentState: async () => 'Plan' });
    await runStatus(TARGET, { limit: 5, json: true, watch: true, intervalSeconds: 1 }, fake.ports);
    expect(fake.printed).toHaveLength(2);
    expect(fake.printed.map((l) => JSON.parse(l).executions[0].status)).toEqual(['RUNNING', 'SUCCEEDED']);
  });
});

describe('runHistory', () => {
  const records: HistoryEntry[] = [
    { startedAt: '2024-05-01T00:00:00Z', toVersion: '0.8.1', change: 'install', outcome: 'succeeded', executionName: 'a' },
    { startedAt: '2024-06-01T00:00:00Z', fromVersion: '0.8.1', toVersion: '0.9.0', change: 'upgrade', outcome: 'succeeded', executionName: 'b' },
  ];

  test('reads the gateway’s records from the stack’s table and prints a table, newest first', async () => {
    const history = jest.fn(async () => records);
    const fake = fakePorts({ history });
    const result = await runHistory(TARGET, { limit: 10 }, fake.ports);
    expect(history).toHaveBeenCalledWith('table', 'gw', 10);
    expect(result.map((r) => r.executionName)).toEqual(['b', 'a']);
    expect(fake.printed[0]).toBe('Deployments of gateway gw, newest first:');
    expect(fake.printed[3]).toMatch(/^2024-06-01 00:00:00Z\s+0\.8\.1 → 0\.9\.0 \(upgrade\)\s+succeeded/);
  });

  test('--json', async () => {
    const fake = fakePorts({ history: async () => records });
    await runHistory(TARGET, { limit: 1, json: true }, fake.ports);
    expect(JSON.parse(fake.printed.join('\n'))).toEqual([records[1]]);
  });

  test('needs only the table output', async () => {
    const fake = fakePorts({ stackOutputs: async () => [{ OutputKey: 'DeploymentsTableName', OutputValue: 'table' }] });
    await expect(runHistory(TARGET, { limit: 10 }, fake.ports)).resolves.toEqual([]);
    expect(fake.printed).toEqual(['No deployments recorded for gateway gw yet.']);
  });
});
