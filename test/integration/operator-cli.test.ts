/**
 * The operator CLI's start, status and history against moto: a CloudFormation stack whose outputs name a real
 * (moto) state machine and table, found the way the CLI finds them. moto's CloudFormation keeps literal output
 * values, so nothing is mocked; moto's Step Functions does not run the definition, so every execution stays
 * RUNNING until stopped, which is what the lock tests need. The command functions are called directly; one
 * test goes through commander and one runs `--help` in a subprocess.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { operatorAws } from '../../lambdas/shared/adapters/operator-aws';
import { OperatorError, type Target } from '../../lambdas/shared/operator/cli-commands';
import { runHistory, runStart, runStatus, type OperatorPorts } from '../../lambdas/shared/operator/commands';
import { TEST_REGION, createTable, dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { destroyAdapterClients } from './support/handlers';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const SUFFIX = randomBytes(3).toString('hex');
const GATEWAY = `opcli-${SUFFIX}`;
const STACK = `GatewayDeployer-${GATEWAY}`;
const TABLE = `gw-operator-${SUFFIX}`;
const BUCKET = `gw-artifacts-${SUFFIX}`;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };
const clientConfig = () => ({ endpoint: motoEndpoint(), region: TEST_REGION, credentials });

let stateMachineArn: string;
let sfn: SFNClient;
let aws: ReturnType<typeof operatorAws>;
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'operator-cli-'));

/** Real (moto) AWS behind the ports; the clock, the sleep and the printer are the test's. */
function ports(now = new Date()) {
  const printed: string[] = [];
  const p: OperatorPorts = { ...aws, now: () => now, sleep: async () => {}, print: (line) => void printed.push(line) };
  return { ports: p, printed };
}

/** Every test works on its own gateway (its own lock and history partition) of the same stack. */
const target = (gateway: string, stack = STACK): Target => ({ gateway, stack, region: TEST_REGION });

async function createStack(name: string, outputs: Record<string, string>): Promise<void> {
  const cfn = new CloudFormationClient(clientConfig());
  try {
    // CloudFormation needs one resource; moto does not model this one and simply keeps the outputs.
    const template = {
      Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
    };
    await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template) }));
  } finally {
    cfn.destroy();
  }
}

async function putItem(item: Record<string, AttributeValue>): Promise<void> {
  const ddb = dynamoDbClient();
  try {
    await ddb.send(new PutItemCommand({ TableName: TABLE, Item: item }));
  } finally {
    ddb.destroy();
  }
}

const putLock = (gateway: string, executionArn: string, acquiredAt = '2024-06-01T09:00:00.000Z') =>
  putItem({ pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'LOCK' }, executionArn: { S: executionArn }, acquiredAt: { S: acquiredAt } });

async function executionNames(): Promise<string[]> {
  const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }));
  return (out.executions ?? []).map((e) => e.name ?? '');
}

/** An execution started directly, as another operator's run would be. */
async function startedElsewhere(name: string): Promise<string> {
  const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: '{"version":"0.8.1","trigger":"console"}' }));
  return out.executionArn!;
}

beforeAll(async () => {
  sfn = new SFNClient(clientConfig());
  aws = operatorAws({ region: TEST_REGION, endpoint: motoEndpoint(), credentials });
  await createTable(TABLE);
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: `GatewayDeployment-${GATEWAY}`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/gateway-deployer-${SUFFIX}`,
      definition: JSON.stringify({ StartAt: 'ReceiveRequest', States: { ReceiveRequest: { Type: 'Pass', End: true } } }),
    }),
  );
  stateMachineArn = created.stateMachineArn!;
  await createStack(STACK, { StateMachineArn: stateMachineArn, DeploymentsTableName: TABLE, ArtifactsBucketName: BUCKET, StateBucketName: `gw-state-${SUFFIX}` });
  await createStack(`NotADeployer-${SUFFIX}`, { Something: 'else' });
});

afterAll(async () => {
  sfn.destroy();
  aws.destroy();
  // approve reads the table through the shared adapter clients.
  await destroyAdapterClients();
  fs.rmSync(configDir, { recursive: true, force: true });
});

describe('start', () => {
  test('starts the state machine named by the stack outputs, with the CLI input and name', async () => {
    const { ports: p, printed } = ports(new Date('2024-06-01T09:30:00Z'));
    const result = await runStart(
      target(`${GATEWAY}-start`),
      { version: '0.9.0', expectedAgentVersion: '0.16.20', reason: 'vendor ticket 1234', sha256: 'A'.repeat(64), allowRedeploy: true },
      p,
    );

    expect(result.executionName).toBe('cli-0-9-0-20240601093000');
    expect(result.executionArn).toBe(`arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:cli-0-9-0-20240601093000`);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: result.executionArn }));
    expect(described.status).toBe('RUNNING');
    expect(JSON.parse(described.input ?? '')).toEqual({
      version: '0.9.0',
      bundleSha256: 'A'.repeat(64),
      expectedAgentVersion: '0.16.20',
      allowRedeploy: true,
      reason: 'vendor ticket 1234',
      trigger: 'cli',
    });
    expect(printed.join('\n')).toContain(`ARN:     ${result.executionArn}`);
    expect(printed.join('\n')).toContain(
      `console: https://${TEST_REGION}.console.aws.amazon.com/states/home?region=${TEST_REGION}#/v2/executions/details/${result.executionArn}`,
    );
  });

  test('another operation: the operation is in the input', async () => {
    const { ports: p } = ports(new Date('2024-06-01T09:31:00Z'));
    const result = await runStart(target(`${GATEWAY}-drift`), { operation: 'drift-check', reason: 'weekly look' }, p);
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: result.executionArn }));
    expect(JSON.parse(described.input ?? '')).toEqual({ operation: 'drift-check', reason: 'weekly look', trigger: 'cli' });
    expect(result.executionName).toBe('cli-drift-check-20240601093100');
  });

  test('refused while the lock holder is RUNNING: nothing started', async () => {
    const gateway = `${GATEWAY}-locked`;
    const holder = await startedElsewhere(`holder-${SUFFIX}`);
    await putLock(gateway, holder);
    const before = await executionNames();

    const { ports: p } = ports(new Date('2024-06-01T09:32:00Z'));
    const refusal = runStart(target(gateway), { version: '0.9.1' }, p);
    await expect(refusal).rejects.toBeInstanceOf(OperatorError);
    await expect(refusal).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(new RegExp(`^deployment in progress: ${holder}`)) });

    expect(await executionNames()).toEqual(before);
    expect(before).not.toContain('cli-0-9-1-20240601093200');
  });

  test('a lock left by a stopped execution does not block: the run takes it over', async () => {
    const gateway = `${GATEWAY}-stale`;
    const holder = await startedElsewhere(`stopped-${SUFFIX}`);
    await sfn.send(new StopExecutionCommand({ executionArn: holder }));
    await putLock(gateway, holder);

    const { ports: p, printed } = ports(new Date('2024-06-01T09:33:00Z'));
    const result = await runStart(target(gateway), { version: '0.9.1' }, p);
    expect(printed[0]).toBe(`Note: the lock is still held by ${holder} (ABORTED); the new run takes it over.`);
    expect(await executionNames()).toContain(result.executionName);
  });

  test('a lock naming an execution Step Functions never had does not block either', async () => {
    const gateway = `${GATEWAY}-ghost`;
    await putLock(gateway, `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:never-${SUFFIX}`);
    const { ports: p, printed } = ports(new Date('2024-06-01T09:34:00Z'));
    await runStart(target(gateway), { version: '0.9.2' }, p);
    expect(printed[0]).toContain('(MISSING); the new run takes it over.');
  });
});

describe('status', () => {
  test('shows the lock holder and the execution, with its current state', async () => {
    const gateway = `${GATEWAY}-status`;
    const holder = await startedElsewhere(`status-${SUFFIX}`);
    await putLock(gateway, holder, '2024-06-01T09:40:00.000Z');

    const { ports: p, printed } = ports();
    const report = await runStatus(target(gateway), { limit: 100 }, p);

    expect(report.stateMachineArn).toBe(stateMachineArn);
    expect(report.lock).toEqual({ executionArn: holder, acquiredAt: '2024-06-01T09:40:00.000Z', holderStatus: 'RUNNING' });
    const view = report.executions.find((e) => e.executionArn === holder);
    expect(view).toMatchObject({ name: `status-${SUFFIX}`, status: 'RUNNING' });
    // moto answers GetExecutionHistory with a canned history: some state name, not this machine's.
    expect(view?.currentState).toEqual(expect.any(String));

    const text = printed.join('\n');
    expect(text).toContain(`Gateway ${gateway}: stack ${STACK} in ${TEST_REGION}`);
    expect(text).toContain(`Lock: held by status-${SUFFIX} since 2024-06-01 09:40:00Z (RUNNING)`);
    expect(printed.find((l) => l.startsWith(`status-${SUFFIX} `))).toMatch(/^status-\S+\s+RUNNING\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+-\s+\S+/);
  });

  test('--json, limited, newest first', async () => {
    const { ports: p, printed } = ports();
    await runStatus(target(`${GATEWAY}-json`), { limit: 2, json: true }, p);
    const json = JSON.parse(printed.join('\n'));
    expect(json.lock).toBeNull();
    expect(json.executions).toHaveLength(2);
    expect(Date.parse(json.executions[0].startDate)).toBeGreaterThanOrEqual(Date.parse(json.executions[1].startDate));
  });
});

describe('history', () => {
  const gateway = `${GATEWAY}-hist`;
  const record = (startedAt: string, name: string, extra: Record<string, string>) => ({
    pk: { S: `GATEWAY#${gateway}` },
    sk: { S: `RUN#${startedAt}#${name}` },
    gateway: { S: gateway },
    executionName: { S: name },
    executionArn: { S: `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:${name}` },
    startedAt: { S: startedAt },
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, { S: v }])),
  });

  beforeAll(async () => {
    await putItem(record('2024-05-01T08:00:00.000Z', 'run-install', { outcome: 'succeeded', change: 'install', toVersion: '0.8.1', approvedBy: `arn:aws:iam::${ACCOUNT}:user/alice`, trigger: 'console' }));
    await putItem(record('2024-06-01T09:30:00.000Z', 'run-upgrade', { outcome: 'failed', change: 'upgrade', fromVersion: '0.8.1', toVersion: '0.9.0', failedStep: 'Verify', error: 'VerificationError', trigger: 'cli' }));
    await putItem(record('2024-05-15T12:00:00.000Z', 'run-redeploy', { outcome: 'succeeded', change: 'redeploy', fromVersion: '0.8.1', toVersion: '0.8.1', approvedBy: 'not needed: no changes', trigger: 'cli' }));
    // Not history: the deployed version, the lock, and another gateway's run.
    await putItem({ pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'CURRENT' }, version: { S: '0.8.1' } });
    await putItem({ pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'LOCK' }, executionArn: { S: 'x' }, acquiredAt: { S: 'y' } });
    await putItem({ pk: { S: `GATEWAY#${gateway}-other` }, sk: { S: 'RUN#2024-07-01T00:00:00.000Z#elsewhere' }, executionName: { S: 'elsewhere' } });
  });

  test('the records of the gateway, newest first, as a table', async () => {
    const { ports: p, printed } = ports();
    const records = await runHistory(target(gateway), { limit: 10 }, p);
    expect(records.map((r) => r.executionName)).toEqual(['run-upgrade', 'run-redeploy', 'run-install']);
    expect(printed.slice(0, 3)).toEqual([`Deployments of gateway ${gateway}, newest first:`, '', expect.stringMatching(/^STARTED\s+VERSION\s+OUTCOME\s+APPROVED BY\s+TRIGGER\s+EXECUTION$/)]);
    expect(printed[3]).toMatch(/^2024-06-01 09:30:00Z\s+0\.8\.1 → 0\.9\.0 \(upgrade\)\s+failed at Verify: VerificationError\s+-\s+cli\s+run-upgrade$/);
    expect(printed[4]).toMatch(/^2024-05-15 12:00:00Z\s+0\.8\.1 \(redeploy\)\s+succeeded\s+not needed: no changes\s+cli\s+run-redeploy$/);
    expect(printed[5]).toMatch(/^2024-05-01 08:00:00Z\s+→ 0\.8\.1 \(install\)\s+succeeded\s+user\/alice\s+console\s+run-install$/);
  });

  test('--limit and --json', async () => {
    const { ports: p, printed } = ports();
    await runHistory(target(gateway), { limit: 2, json: true }, p);
    const json = JSON.parse(printed.join('\n'));
    expect(json.map((r: { executionName: string }) => r.executionName)).toEqual(['run-upgrade', 'run-redeploy']);
    expect(json[0]).toMatchObject({ outcome: 'failed', failedStep: 'Verify', toVersion: '0.9.0' });
    expect(json[0]).not.toHaveProperty('pk');
  });

  test('a gateway without records', async () => {
    const { ports: p, printed } = ports();
    await expect(runHistory(target(`${GATEWAY}-empty`), { limit: 10 }, p)).resolves.toEqual([]);
    expect(printed).toEqual([`No deployments recorded for gateway ${GATEWAY}-empty yet.`]);
  });
});

describe('finding the stack', () => {
  test('a stack that does not exist: deploy it first, exit 2, nothing started', async () => {
    const before = await executionNames();
    const { ports: p } = ports();
    const attempt = runStart(target(GATEWAY, `GatewayDeployer-missing-${SUFFIX}`), { version: '0.9.0' }, p);
    await expect(attempt).rejects.toBeInstanceOf(OperatorError);
    await expect(attempt).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(new RegExp(`^stack GatewayDeployer-missing-${SUFFIX} not found in ${TEST_REGION}: deploy it first with \`npx cdk deploy\``)),
    });
    expect(await executionNames()).toEqual(before);
  });

  test('a stack without the deployer outputs: they are named', async () => {
    const { ports: p } = ports();
    await expect(runStatus(target(GATEWAY, `NotADeployer-${SUFFIX}`), { limit: 5 }, p)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining(`stack NotADeployer-${SUFFIX} has no outputs StateMachineArn, DeploymentsTableName`),
    });
  });
});

describe('through the CLI (commander)', () => {
  let printed: string[] = [];

  async function cli() {
    const { program } = await import('../../bin/cli');
    const quiet = { writeOut: () => {}, writeErr: () => {} };
    const p = program().exitOverride().configureOutput(quiet);
    for (const sub of p.commands) sub.exitOverride().configureOutput(quiet);
    return p;
  }
  const argv = (...args: string[]) => ['node', 'cli', ...args];

  beforeEach(() => {
    printed = [];
    jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
  });
  afterEach(() => jest.restoreAllMocks());

  test('--config gives the gateway, the stack name and the region', async () => {
    const config = path.join(configDir, 'gateway.yaml');
    fs.writeFileSync(config, `gatewayName: ${GATEWAY}\ntarget: { account: "${ACCOUNT}", region: ${TEST_REGION} }\nvaluesSecretName: ${GATEWAY}/values\napproval: { approvers: ["arn:aws:iam::${ACCOUNT}:role/GatewayOperator"] }\n`);
    await (await cli()).parseAsync(argv('status', '--config', config, '--json', '--limit', '3'));
    const json = JSON.parse(printed.join('\n'));
    expect(json).toMatchObject({ gateway: GATEWAY, stack: STACK, region: TEST_REGION, stateMachineArn });
    expect(json.executions.length).toBeGreaterThan(0);
  });

  test('--output json as the AWS CLI spells it, and --profile sets the profile every client uses', async () => {
    const before = { profile: process.env.AWS_PROFILE, file: process.env.AWS_SHARED_CREDENTIALS_FILE };
    // The profile exists only in this file: the command works only if its clients really read that profile.
    const credentials = path.join(configDir, 'credentials');
    fs.writeFileSync(credentials, '[gateway-operators]\naws_access_key_id = testing\naws_secret_access_key = testing\n');
    process.env.AWS_SHARED_CREDENTIALS_FILE = credentials;
    try {
      await (await cli()).parseAsync(argv('status', '--stack', STACK, '--region', TEST_REGION, '--output', 'json', '--limit', '1', '--profile', 'gateway-operators'));
      expect(JSON.parse(printed.join('\n'))).toMatchObject({ stack: STACK, region: TEST_REGION });
      expect(process.env.AWS_PROFILE).toBe('gateway-operators');
      await expect((await cli()).parseAsync(argv('status', '--stack', STACK, '--region', TEST_REGION, '--profile', 'nobody'))).rejects.toMatchObject({ exitCode: 2 });
    } finally {
      for (const [name, value] of [['AWS_PROFILE', before.profile], ['AWS_SHARED_CREDENTIALS_FILE', before.file]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('history with --gateway and --stack', async () => {
    await (await cli()).parseAsync(argv('history', '--gateway', `${GATEWAY}-hist`, '--stack', STACK, '--region', TEST_REGION, '--limit', '1'));
    expect(printed[0]).toBe(`Deployments of gateway ${GATEWAY}-hist, newest first:`);
    expect(printed).toHaveLength(4);
  });

  test('approve looks for the approval function in the stack outputs, and names the output a stack lacks', async () => {
    // This stack predates the approval function (no ApprovalFunctionName output). The approval itself, through the
    // real function's code, is test/integration/approval-flow.test.ts (moto cannot run a Lambda without Docker).
    const attempt = (await cli()).parseAsync(argv('approve', '--stack', STACK, '--region', TEST_REGION, '--execution', 'run-1', '--reason', 'fine'));
    await expect(attempt).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`stack ${STACK} has no output ApprovalFunctionName`) });
  });

  test('approve for a stack that does not exist: the same error as the other commands', async () => {
    const attempt = (await cli()).parseAsync(argv('approve', '--gateway', `missing-${SUFFIX}`, '--region', TEST_REGION, '--execution', 'x', '--reason', 'r'));
    await expect(attempt).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`stack GatewayDeployer-missing-${SUFFIX} not found in ${TEST_REGION}`) });
  });

  test('start --input file://: the console input from a file, started as the CLI; with a flag beside it, refused before AWS', async () => {
    const input = path.join(configDir, 'input.json');
    fs.writeFileSync(input, JSON.stringify({ version: '0.9.1', reason: 'from a file' }));
    await (await cli()).parseAsync(argv('start', '--gateway', `${GATEWAY}-input`, '--stack', STACK, '--region', TEST_REGION, '--input', `file://${input}`));
    const arn = /ARN:\s+(\S+)/.exec(printed.join('\n'))![1];
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    expect(JSON.parse(described.input ?? '')).toEqual({ version: '0.9.1', reason: 'from a file', trigger: 'cli' });

    const both = (await cli()).parseAsync(argv('start', '--stack', `missing-${SUFFIX}`, '--region', TEST_REGION, '--input', `file://${input}`, '--version', '0.9.2'));
    // Refused as a usage error before any AWS call: the stack does not even exist.
    await expect(both).rejects.toMatchObject({ exitCode: 2, message: '--input is the whole execution input: leave out --version (or put them in the input)' });
  });

  test('an invalid --limit is refused', async () => {
    await expect((await cli()).parseAsync(argv('status', '--stack', STACK, '--limit', 'many'))).rejects.toThrow('--limit must be a whole number from 1 to 100, not "many"');
  });
});

test('the gateway-deployer bin, in a subprocess: --help lists the operator commands, and no rehearse', async () => {
  const root = path.join(__dirname, '..', '..');
  const bin = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf-8')).bin['gateway-deployer'];
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, bin), '--help'], { cwd: os.tmpdir(), timeout: 30_000 });
  for (const command of ['start', 'status', 'history', 'approve', 'reject']) expect(stdout).toMatch(new RegExp(`^\\s+${command} `, 'm'));
  expect(stdout).not.toMatch(/^\s+rehearse /m);
});

test('the bin, in a subprocess: commander\'s own usage errors exit 2 like every usage error, --help exits 0', async () => {
  const root = path.join(__dirname, '..', '..');
  const bin = path.join(root, JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf-8')).bin['gateway-deployer']);
  const run = (...args: string[]) =>
    promisify(execFile)(process.execPath, [bin, ...args], { cwd: os.tmpdir(), timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
  expect(await run('status', '--output', 'xml')).toMatchObject({ code: 2, stderr: expect.stringContaining("argument 'xml' is invalid") });
  expect(await run('status', '--bogus')).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown option '--bogus'") });
  expect(await run('nosuch')).toMatchObject({ code: 2 });
  expect(await run('status', '--help')).toEqual({ code: 0, stderr: '' });
});

test('the operator CLI loads no test code: nothing bin/cli.ts imports, directly or not, is under test/', async () => {
  const root = path.join(__dirname, '..', '..');
  const { build } = await import('esbuild');
  const result = await build({ entryPoints: [path.join(root, 'bin', 'cli.ts')], bundle: true, write: false, metafile: true, platform: 'node', packages: 'external', logLevel: 'silent' });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toContain('bin/cli.ts');
  expect(inputs.filter((file) => file.startsWith('test/'))).toEqual([]);
});
