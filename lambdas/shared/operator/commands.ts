import {
  buildStartInput,
  consoleUrl,
  executionNameFor,
  explainAwsError,
  lockRefusal,
  OperatorError,
  requireOutputs,
  validateStartInput,
  type LockItem,
  type OutputKey,
  type StackOutput,
  type StartOptions,
  type Target,
} from './cli-commands';
import { formatHistory, newestRecordsFirst, type HistoryEntry } from './history-view';
import { anyRunning, formatStatus, newestFirst, statusJson, type DeployedView, type ExecutionView, type StatusReport } from './status';
import { statusSubscriptions, subscriptionStatusLines, type ConfiguredAddresses, type SubscriptionAws } from './subscriptions';

/**
 * The operator commands `start`, `status` and `history`, with every AWS call behind a port (as decide() in
 * approval.ts), so bin/cli.ts only parses flags and the tests can drive them against moto or fakes.
 */

/** The AWS calls, each one request (adapters/operator-aws.ts). */
export interface OperatorAws {
  /** The region the clients use (`--region`, else the SDK's chain); throws when there is none. */
  region(): Promise<string>;
  /** DescribeStacks: the stack's outputs. */
  stackOutputs(stack: string): Promise<readonly StackOutput[]>;
  /** The lock item, or null. */
  readLock(table: string, gateway: string): Promise<LockItem | null>;
  /** The CURRENT item: what the last applied run left on the cluster, verified or not; null before the first install. */
  readDeployed(table: string, gateway: string): Promise<DeployedView | null>;
  /** DescribeExecution's status; `MISSING` when Step Functions does not know the execution. */
  executionStatus(executionArn: string): Promise<string>;
  startExecution(stateMachineArn: string, name: string, input: string): Promise<{ executionArn: string; startDate?: Date }>;
  /** ListExecutions, newest first. */
  listExecutions(stateMachineArn: string, limit: number): Promise<ExecutionView[]>;
  /** The state a running execution is in (GetExecutionHistory, newest events first). */
  currentState(executionArn: string): Promise<string | null>;
  /** History items of the gateway, newest first. */
  history(table: string, gateway: string, limit: number): Promise<HistoryEntry[]>;
}

export interface OperatorPorts extends OperatorAws {
  now(): Date;
  sleep(ms: number): Promise<void>;
  print(line: string): void;
}

/** Every AWS call goes through this: a missing credential or region becomes the operator's message. */
async function aws<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(error);
  }
}

export interface Discovered<K extends OutputKey> {
  readonly region: string;
  readonly outputs: Record<K, string> & Partial<Record<OutputKey, string>>;
}

/** The deployed stack's region and outputs: what every command needs before it can do anything. */
export async function discover<K extends OutputKey>(target: Target, ports: Pick<OperatorAws, 'region' | 'stackOutputs'>, required: readonly K[]): Promise<Discovered<K>> {
  const region = await aws(() => ports.region());
  let outputs: readonly StackOutput[];
  try {
    outputs = await ports.stackOutputs(target.stack);
  } catch (error) {
    throw explainAwsError(error, { stack: target.stack, region });
  }
  return { region, outputs: requireOutputs(outputs, target.stack, required) };
}

// ---------------------------------------------------------------------------------------------------------------

export interface StartResult {
  readonly executionArn: string;
  readonly executionName: string;
  readonly input: Record<string, unknown>;
  readonly consoleUrl: string;
}

/**
 * Validates the input, refuses while another run of the gateway is RUNNING (the lock item), then starts the
 * state machine. The check and the start are not atomic: the state machine's AcquireLock is the real guard,
 * this only spares the operator a run that would stop there.
 */
export async function runStart(target: Target, options: StartOptions, ports: OperatorPorts): Promise<StartResult> {
  const input = buildStartInput(options);
  validateStartInput(input);

  const { region, outputs } = await discover(target, ports, ['StateMachineArn', 'DeploymentsTableName']);
  const lock = await aws(() => ports.readLock(outputs.DeploymentsTableName, target.gateway));
  if (lock) {
    const holderStatus = await aws(() => ports.executionStatus(lock.executionArn));
    const refusal = lockRefusal(lock, holderStatus);
    if (refusal) throw refusal;
    ports.print(`Note: the lock is still held by ${lock.executionArn} (${holderStatus}); the new run takes it over.`);
  }

  const executionName = executionNameFor(input, ports.now());
  let started: { executionArn: string };
  try {
    started = await ports.startExecution(outputs.StateMachineArn, executionName, JSON.stringify(input));
  } catch (error) {
    if ((error as Error).name === 'ExecutionAlreadyExists') {
      throw new OperatorError(`an execution named ${executionName} already exists with another input; wait a second and start again`);
    }
    throw explainAwsError(error);
  }
  const url = consoleUrl(region, started.executionArn);
  const what = input.operation ? String(input.operation) : 'deploy';
  const version = (input.version ?? input.bundleKey ?? '') as string;
  ports.print(`Started ${what}${version ? ` of ${version}` : ''} for gateway ${target.gateway}: execution ${executionName}`);
  ports.print(`  ARN:     ${started.executionArn}`);
  ports.print(`  console: ${url}`);
  ports.print(`  follow:  npx gateway-deployer status --watch --stack ${target.stack} --region ${region}`);
  return { executionArn: started.executionArn, executionName, input, consoleUrl: url };
}

// ---------------------------------------------------------------------------------------------------------------

export interface StatusOptions {
  readonly limit: number;
  readonly watch?: boolean;
  readonly intervalSeconds?: number;
  readonly json?: boolean;
  /** The config's addresses, when it is this gateway's config: `status` then also names the missing ones. */
  readonly notifications?: Pick<ConfiguredAddresses, 'supportEmails' | 'operatorEmails'>;
}

/** One look at the lock and the latest executions. */
export async function collectStatus(target: Target, discovered: Discovered<'StateMachineArn' | 'DeploymentsTableName'>, limit: number, ports: OperatorPorts): Promise<StatusReport> {
  const { outputs, region } = discovered;
  const [lockItem, listed, deployed] = await Promise.all([
    aws(() => ports.readLock(outputs.DeploymentsTableName, target.gateway)),
    aws(() => ports.listExecutions(outputs.StateMachineArn, limit)),
    aws(() => ports.readDeployed(outputs.DeploymentsTableName, target.gateway)),
  ]);
  const latest = newestFirst(listed, limit);
  const executions = await Promise.all(
    latest.map(async (e) => (e.status === 'RUNNING' ? { ...e, currentState: await aws(() => ports.currentState(e.executionArn)) } : e)),
  );
  let lock: StatusReport['lock'] = null;
  if (lockItem) {
    const known = executions.find((e) => e.executionArn === lockItem.executionArn);
    lock = { ...lockItem, holderStatus: known?.status ?? (await aws(() => ports.executionStatus(lockItem.executionArn))) };
  }
  return { gateway: target.gateway, stack: target.stack, region, stateMachineArn: outputs.StateMachineArn, at: ports.now(), deployed, lock, executions };
}

/**
 * Prints the status; with `watch`, again every interval until no listed execution is RUNNING. Returns the last
 * report. With `json`, one JSON document (watch: one compact JSON line per look).
 */
export async function runStatus(target: Target, options: StatusOptions, ports: OperatorPorts & Partial<SubscriptionAws>): Promise<StatusReport> {
  const discovered = await discover(target, ports, ['StateMachineArn', 'DeploymentsTableName']);
  // Once per command, best effort: a subscription not confirmed gets a line (subscriptions.ts).
  const subscriptions = await statusSubscriptions(discovered.outputs, options.notifications, ports);
  for (let first = true; ; first = false) {
    const report = await collectStatus(target, discovered, options.limit, ports);
    if (options.json) {
      const json = { ...statusJson(report), ...(subscriptions ? { subscriptions } : {}) };
      ports.print(options.watch ? JSON.stringify(json) : JSON.stringify(json, null, 2));
    } else {
      if (!first) ports.print('');
      for (const line of [...formatStatus(report), ...subscriptionStatusLines(subscriptions)]) ports.print(line);
    }
    if (!options.watch || !anyRunning(report)) return report;
    await ports.sleep((options.intervalSeconds ?? 10) * 1000);
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface HistoryOptions {
  readonly limit: number;
  readonly json?: boolean;
}

export async function runHistory(target: Target, options: HistoryOptions, ports: OperatorPorts): Promise<HistoryEntry[]> {
  const { outputs } = await discover(target, ports, ['DeploymentsTableName']);
  const records = newestRecordsFirst(await aws(() => ports.history(outputs.DeploymentsTableName, target.gateway, options.limit))).slice(0, options.limit);
  if (options.json) ports.print(JSON.stringify(records, null, 2));
  else for (const line of formatHistory(target.gateway, records)) ports.print(line);
  return records;
}
