/**
 * The approval gate end to end against moto: the real RequestApproval handler stores the task token in the
 * deployments table and mails operators through a real (moto) SNS topic; the operator side reads the item,
 * records the decision once, drops the token and answers the waiting run. Step Functions is the only fake.
 */
import { randomBytes } from 'node:crypto';
import { DeleteItemCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { CommanderError } from 'commander';
import type { RequestApprovalEvent } from '../../lambdas/request-approval/request';
import { approvalKey } from '../../lambdas/shared/adapters/approvals';
import { ApprovalCommandError, decide, executionNameOf, type DecisionPorts } from '../../lambdas/shared/operator/approval';
import { TEST_REGION, createTable, dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const SUFFIX = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const TABLE = `gw-approvals-${SUFFIX}`;
const TOPIC = `gw-operators-${SUFFIX}`;
const BUCKET = `gw-artifacts-${ACCOUNT}`;
const STACK = 'GatewayDeployer-gw-it';
const OPERATOR = `arn:aws:iam::${ACCOUNT}:user/alice`;
const DECIDED_AT = new Date('2024-06-01T09:30:00.000Z');
/** The identity moto's STS reports for the test credentials. */
const MOTO_CALLER = `arn:aws:sts::${ACCOUNT}:user/moto`;

/** A distinctive token per execution, so a leak into any message or log line is a plain substring match. */
const tokenFor = (executionName: string) => `AQCEAAAAKgAAAAMAAAAAAAAAAQ-TOKEN-CANARY-${executionName}-${SUFFIX}`;

type Handler = (event: RequestApprovalEvent) => Promise<void>;
let handler: Handler;
let topicArn: string;
let publishSpy: jest.SpyInstance;
const logLines: string[] = [];
let executionCounter = 0;

/** A fresh execution name per test, so tests never share an item. */
const newExecution = (label: string) => `run-${label}-${(executionCounter += 1)}`;

function requestEvent(executionName: string, timeoutHours = 12): RequestApprovalEvent {
  return {
    taskToken: tokenFor(executionName),
    executionArn: `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:${executionName}`,
    executionName,
    config: JSON.stringify({
      gatewayName: 'gw-it',
      target: { account: ACCOUNT, region: TEST_REGION },
      valuesSecretName: 'gw-it/values',
      approval: { timeoutHours },
    }),
    preflight: { gateway: 'gw-it', version: '0.9.0', previousVersion: '0.8.1', change: 'upgrade' },
    analysis: {
      line: 'Plan: 1 to add, 1 to change, 1 to destroy.',
      changes: [
        { address: 'module.gateway.helm_release.gateway', action: 'update' },
        { address: 'module.gateway.kubernetes_config_map.settings', action: 'replace' },
      ],
      changesNotListed: 0,
      risk: { level: 'medium', reasons: ['replaces module.gateway.kubernetes_config_map.settings'] },
      because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
      planTextKey: `plans/gw-it/${executionName}/plan.redacted.txt`,
      planJsonKey: `plans/gw-it/${executionName}/plan.redacted.json`,
    },
  };
}

async function rawItem(executionName: string): Promise<Record<string, AttributeValue> | undefined> {
  const ddb = dynamoDbClient();
  try {
    return (await ddb.send(new GetItemCommand({ TableName: TABLE, Key: approvalKey(executionName), ConsistentRead: true }))).Item;
  } finally {
    ddb.destroy();
  }
}

/** Fake Step Functions and STS for `decide`, recording every answer sent. */
function fakePorts(overrides: Partial<DecisionPorts> = {}) {
  const successes: Array<{ taskToken: string; output: string }> = [];
  const failures: Array<{ taskToken: string; error: string; cause: string }> = [];
  const ports: DecisionPorts = {
    whoAmI: async () => OPERATOR,
    sendSuccess: async (taskToken, output) => void successes.push({ taskToken, output }),
    sendFailure: async (taskToken, error, cause) => void failures.push({ taskToken, error, cause }),
    now: () => DECIDED_AT,
    ...overrides,
  };
  return { ports, successes, failures };
}

/** Runs the real handler for a new execution; returns its name. */
async function requested(label: string): Promise<string> {
  const executionName = newExecution(label);
  await handler(requestEvent(executionName));
  return executionName;
}

beforeAll(async () => {
  await createTable(TABLE);
  const sns = new SNSClient({ endpoint: motoEndpoint(), region: TEST_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    const created = await sns.send(new CreateTopicCommand({ Name: TOPIC }));
    if (!created.TopicArn) throw new Error('moto returned no TopicArn');
    topicArn = created.TopicArn;
  } finally {
    sns.destroy();
  }

  // Records what the handler publishes while still sending it to moto.
  publishSpy = jest.spyOn(SNSClient.prototype, 'send');

  // The handler reads its settings and builds its clients at import time, so it is imported only now.
  process.env.DEPLOYMENTS_TABLE = TABLE;
  process.env.OPERATORS_TOPIC_ARN = topicArn;
  process.env.ARTIFACTS_BUCKET = BUCKET;
  process.env.STACK_NAME = STACK;
  process.env.POWERTOOLS_DEV = 'true';
  captureConsole(logLines);
  ({ handler } = await import('../../lambdas/request-approval/index'));
});

afterAll(async () => {
  await destroyAdapterClients();
  jest.restoreAllMocks();
  for (const name of ['DEPLOYMENTS_TABLE', 'OPERATORS_TOPIC_ARN', 'ARTIFACTS_BUCKET', 'STACK_NAME', 'POWERTOOLS_DEV']) delete process.env[name];
});

beforeEach(() => {
  publishSpy.mockClear();
});

describe('RequestApproval handler against moto', () => {
  test('stores a pending approval with the token and publishes one message to the topic, without the token', async () => {
    const executionName = newExecution('request');
    const before = Math.floor(Date.now() / 1000);
    const logsBefore = logLines.length;
    await handler(requestEvent(executionName, 12));
    const after = Math.floor(Date.now() / 1000);

    const item = await rawItem(executionName);
    expect(item).toBeDefined();
    expect(item).toMatchObject({
      pk: { S: `EXECUTION#${executionName}` },
      sk: { S: 'APPROVAL' },
      status: { S: 'pending' },
      taskToken: { S: tokenFor(executionName) },
      gateway: { S: 'gw-it' },
      executionArn: { S: `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:${executionName}` },
    });
    const requestedAt = Date.parse(item!.requestedAt.S!);
    expect(Math.floor(requestedAt / 1000)).toBeGreaterThanOrEqual(before);
    expect(Math.floor(requestedAt / 1000)).toBeLessThanOrEqual(after);
    expect(Number(item!.expiresAt.N)).toBe(Math.floor(requestedAt / 1000) + (12 + 24) * 3600);
    expect(item).not.toHaveProperty('decidedBy');

    const publishes = publishSpy.mock.calls.map(([command]) => command).filter((c): c is PublishCommand => c instanceof PublishCommand);
    expect(publishes).toHaveLength(1);
    const input = publishes[0].input;
    expect(input.TopicArn).toBe(topicArn);
    expect(input.Subject).toBe('Compute Gateway gw-it: approve upgrade to 0.9.0? Plan: 1 to add, 1 to change, 1 to destroy.');
    expect(input.Message).toContain(`--stack ${STACK} --region ${TEST_REGION} --execution ${executionName}`);
    expect(input.Message).toContain(`s3://${BUCKET}/plans/gw-it/${executionName}/plan.redacted.txt`);
    expect(input.Message).toContain('within 12 h');
    // moto accepted it: the call resolved with a message id.
    expect((await publishSpy.mock.results[publishSpy.mock.results.length - 1].value).MessageId).toEqual(expect.any(String));

    expect(`${input.Subject}\n${input.Message}`).not.toContain(tokenFor(executionName));
    expect(`${input.Subject}\n${input.Message}`).not.toContain('TOKEN-CANARY');
    const logs = logLines.slice(logsBefore).join('\n');
    expect(logs).toContain('approval requested');
    expect(logs).not.toContain('TOKEN-CANARY');
  });
});

describe('decide against the stored approval', () => {
  test('approve: the token goes to SendTaskSuccess once, the item is approved and loses its token', async () => {
    const executionName = await requested('approve');
    const fake = fakePorts();
    const result = await decide(TABLE, executionName, 'approve', '  looks fine  ', fake.ports);

    expect(result).toEqual({ executionName, gateway: 'gw-it', decision: 'approve', decidedBy: OPERATOR, reason: 'looks fine' });
    expect(fake.failures).toEqual([]);
    expect(fake.successes).toHaveLength(1);
    expect(fake.successes[0].taskToken).toBe(tokenFor(executionName));
    expect(JSON.parse(fake.successes[0].output)).toEqual({
      approved: true,
      decidedBy: OPERATOR,
      reason: 'looks fine',
      decidedAt: DECIDED_AT.toISOString(),
    });

    const item = await rawItem(executionName);
    expect(item).toMatchObject({
      status: { S: 'approved' },
      decidedBy: { S: OPERATOR },
      reason: { S: 'looks fine' },
      decidedAt: { S: DECIDED_AT.toISOString() },
      gateway: { S: 'gw-it' },
    });
    expect(item).not.toHaveProperty('taskToken');
    expect(JSON.stringify(item)).not.toContain('TOKEN-CANARY');
  });

  test.each(['approve', 'reject'] as const)('a second decision (%s) is refused and sends nothing', async (second) => {
    const executionName = await requested(`twice-${second}`);
    await decide(TABLE, executionName, 'approve', 'looks fine', fakePorts().ports);

    const fake = fakePorts({ whoAmI: async () => `arn:aws:iam::${ACCOUNT}:user/bob` });
    const attempt = decide(TABLE, executionName, second, 'changed my mind', fake.ports);
    await expect(attempt).rejects.toBeInstanceOf(ApprovalCommandError);
    await expect(decide(TABLE, executionName, second, 'changed my mind', fake.ports)).rejects.toThrow(
      `execution ${executionName} was already approved by ${OPERATOR} at ${DECIDED_AT.toISOString()}: looks fine`,
    );
    expect(fake.successes).toEqual([]);
    expect(fake.failures).toEqual([]);
    expect(await rawItem(executionName)).toMatchObject({ status: { S: 'approved' }, decidedBy: { S: OPERATOR }, reason: { S: 'looks fine' } });
  });

  test('reject: the token goes to SendTaskFailure with ApprovalRejected and who and why', async () => {
    const executionName = await requested('reject');
    const fake = fakePorts();
    const result = await decide(TABLE, executionName, 'reject', 'destroys the log group', fake.ports);

    expect(result.decision).toBe('reject');
    expect(fake.successes).toEqual([]);
    expect(fake.failures).toEqual([
      { taskToken: tokenFor(executionName), error: 'ApprovalRejected', cause: `plan rejected by ${OPERATOR}: destroys the log group` },
    ]);
    const item = await rawItem(executionName);
    expect(item).toMatchObject({ status: { S: 'rejected' }, decidedBy: { S: OPERATOR }, reason: { S: 'destroys the log group' } });
    expect(item).not.toHaveProperty('taskToken');

    await expect(decide(TABLE, executionName, 'approve', 'oops', fakePorts().ports)).rejects.toThrow(
      `execution ${executionName} was already rejected by ${OPERATOR}`,
    );
  });

  test('an execution nobody asked about: "no approval was requested"', async () => {
    const fake = fakePorts();
    await expect(decide(TABLE, 'run-never-requested', 'approve', 'looks fine', fake.ports)).rejects.toThrow(
      new ApprovalCommandError('no approval was requested for execution run-never-requested'),
    );
    expect(fake.successes).toEqual([]);
  });

  test.each(['', '   ', '\n\t'])('an empty reason (%j) is refused before any table read', async (reason) => {
    const whoAmI = jest.fn(async () => OPERATOR);
    const fake = fakePorts({ whoAmI });
    // A table that does not exist: reaching DynamoDB would fail with ResourceNotFoundException instead.
    await expect(decide(`no-such-table-${SUFFIX}`, 'run-x', 'approve', reason, fake.ports)).rejects.toThrow(
      new ApprovalCommandError('a reason is required (--reason "…"); it is kept with the deployment'),
    );
    expect(whoAmI).not.toHaveBeenCalled();
  });

  test('the control: the same call with a reason does reach DynamoDB', async () => {
    await expect(decide(`no-such-table-${SUFFIX}`, 'run-x', 'approve', 'ok', fakePorts().ports)).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  test('a reason longer than 500 characters is refused', async () => {
    await expect(decide(TABLE, 'run-x', 'approve', 'x'.repeat(501), fakePorts().ports)).rejects.toThrow(
      'the reason is longer than 500 characters',
    );
  });

  test('the execution ARN is accepted in place of the name', async () => {
    expect(executionNameOf(`arn:aws:states:eu-central-1:${ACCOUNT}:execution:GatewayDeployment-gw:run-1`)).toBe('run-1');
    const executionName = await requested('arn');
    const fake = fakePorts();
    const arn = `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:${executionName}`;
    const result = await decide(TABLE, arn, 'approve', 'looks fine', fake.ports);
    expect(result.executionName).toBe(executionName);
    expect(fake.successes.map((s) => s.taskToken)).toEqual([tokenFor(executionName)]);
  });

  test.each(['run 1', 'run/1', 'x'.repeat(81), `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:`])(
    'a malformed execution (%s) is refused',
    async (execution) => {
      await expect(decide(TABLE, execution, 'approve', 'ok', fakePorts().ports)).rejects.toThrow(
        new ApprovalCommandError(`"${execution}" is not an execution name or ARN`),
      );
    },
  );

  test.each(['TaskTimedOut', 'TaskDoesNotExist'])('Step Functions answers %s: the run is no longer waiting', async (name) => {
    const executionName = await requested(`late-${name}`);
    const fake = fakePorts({
      sendSuccess: async () => {
        throw Object.assign(new Error('Task Timed Out'), { name });
      },
    });
    const attempt = decide(TABLE, executionName, 'approve', 'looks fine', fake.ports);
    await expect(attempt).rejects.toBeInstanceOf(ApprovalCommandError);
    await expect(attempt).rejects.toThrow(
      `execution ${executionName} is no longer waiting (${name}): the approval timed out or the run ended`,
    );
     // Marked expired, the token gone: nobody can answer for that run any more.
    const item = await rawItem(executionName);
    expect(item?.status?.S).toBe('expired');
    expect(item).not.toHaveProperty('taskToken');
  });

  test('an answer that could not be delivered is undone, so the same command can be run again', async () => {
    const executionName = await requested('undelivered');
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const flaky = fakePorts({
      sendSuccess: async () => {
        throw throttled;
      },
    });
    await expect(decide(TABLE, executionName, 'approve', 'looks fine', flaky.ports)).rejects.toBe(throttled);
    const pending = await rawItem(executionName);
    expect(pending?.status?.S).toBe('pending');
    expect(pending?.taskToken?.S).toBe(tokenFor(executionName));
    expect(pending).not.toHaveProperty('decidedBy');

    const retry = fakePorts();
    await decide(TABLE, executionName, 'approve', 'looks fine', retry.ports);
    expect(retry.successes.map((x) => x.taskToken)).toEqual([tokenFor(executionName)]);
    expect((await rawItem(executionName))?.status?.S).toBe('approved');
  });

  test('any other Step Functions error is passed on unchanged', async () => {
    const executionName = await requested('throttled');
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const fake = fakePorts({
      sendFailure: async () => {
        throw throttled;
      },
    });
    await expect(decide(TABLE, executionName, 'reject', 'no', fake.ports)).rejects.toBe(throttled);
  });
});

describe('the operator CLI', () => {
  const sfn = mockClient(SFNClient);
  let printed: string[] = [];

  /** program() with errors thrown instead of exiting: exitOverride is copied to subcommands only when they are made. */
  async function cli() {
    const { program } = await import('../../bin/cli');
    const quiet = { writeOut: () => {}, writeErr: () => {} };
    const p = program().exitOverride().configureOutput(quiet);
    for (const sub of p.commands) sub.exitOverride().configureOutput(quiet);
    return p;
  }

  const argv = (...args: string[]) => ['node', 'cli', ...args];

  beforeEach(() => {
    sfn.reset();
    printed = [];
    (console.log as jest.Mock).mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
  });

  afterAll(() => sfn.restore());

  test.each([
    ['--reason', ['approve', '--execution', 'run-1', '--table', TABLE]],
    ['--execution', ['reject', '--reason', 'no', '--table', TABLE]],
  ])('a missing %s is a commander error, nothing sent', async (option, args) => {
    const p = await cli();
    const outcome = await p.parseAsync(argv(...args)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(CommanderError);
    expect(outcome).toMatchObject({ code: 'commander.missingMandatoryOptionValue', exitCode: 1 });
    expect((outcome as Error).message).toContain(option);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('an unknown command is a commander error', async () => {
    const p = await cli();
    await expect(p.parseAsync(argv('approv', '--execution', 'x', '--reason', 'r'))).rejects.toMatchObject({ code: 'commander.unknownCommand' });
  });

  test('approve end to end: STS (moto) names the caller, SendTaskSuccess carries the stored token', async () => {
    const executionName = await requested('cli-approve');
    sfn.on(SendTaskSuccessCommand).resolves({});
    const p = await cli();
    await p.parseAsync(argv('approve', '--execution', executionName, '--reason', 'looks fine', '--table', TABLE, '--region', TEST_REGION));

    const sent = sfn.commandCalls(SendTaskSuccessCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0].args[0].input.taskToken).toBe(tokenFor(executionName));
    expect(JSON.parse(sent[0].args[0].input.output ?? '')).toEqual({
      approved: true,
      decidedBy: MOTO_CALLER,
      reason: 'looks fine',
      decidedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect(printed).toEqual([`Approved the plan of execution ${executionName} (gateway gw-it) as ${MOTO_CALLER}.`]);
    expect(await rawItem(executionName)).toMatchObject({ status: { S: 'approved' }, decidedBy: { S: MOTO_CALLER } });
  });

  test('reject end to end by ARN, then a second answer is refused with an ApprovalCommandError', async () => {
    const executionName = await requested('cli-reject');
    sfn.on(SendTaskFailureCommand).resolves({});
    const arn = `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:${executionName}`;
    await (await cli()).parseAsync(argv('reject', '--execution', arn, '--reason', 'too risky', '--table', TABLE, '--region', TEST_REGION));

    const sent = sfn.commandCalls(SendTaskFailureCommand);
    expect(sent).toHaveLength(1);
    expect(sent[0].args[0].input).toEqual({
      taskToken: tokenFor(executionName),
      error: 'ApprovalRejected',
      cause: `plan rejected by ${MOTO_CALLER}: too risky`,
    });
    expect(printed).toEqual([`Rejected the plan of execution ${executionName} (gateway gw-it) as ${MOTO_CALLER}.`]);

    sfn.resetHistory();
    const again = (await cli()).parseAsync(argv('approve', '--execution', executionName, '--reason', 'ok now', '--table', TABLE, '--region', TEST_REGION));
    await expect(again).rejects.toBeInstanceOf(ApprovalCommandError);
    await expect(again).rejects.toThrow(`was already rejected by ${MOTO_CALLER}`);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('an expired item (TTL removed it): "no approval was requested"', async () => {
    const executionName = await requested('cli-expired');
    const ddb = dynamoDbClient();
    try {
      await ddb.send(new DeleteItemCommand({ TableName: TABLE, Key: approvalKey(executionName) }));
    } finally {
      ddb.destroy();
    }
    const attempt = (await cli()).parseAsync(argv('approve', '--execution', executionName, '--reason', 'ok', '--table', TABLE, '--region', TEST_REGION));
    await expect(attempt).rejects.toThrow(`no approval was requested for execution ${executionName}`);
    expect(sfn.calls()).toHaveLength(0);
  });
});
