#!/usr/bin/env node
/**
 * The operator CLI: `npx gateway-deployer <command>`. It finds the deployed stack's resources from its outputs,
 * so the only inputs are the gateway (or its config), the operator's AWS credentials, and what to do. Flags are
 * parsed here; what the commands do is in lambdas/shared/operator/, their AWS calls in adapters/operator-aws.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { loadGatewayConfig } from '../lib/config';
import { operatorAws } from '../lambdas/shared/adapters/operator-aws';
import { signIdentityProof } from '../lambdas/shared/adapters/identity-proof';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ApprovalCommandError, decide, type Decision } from '../lambdas/shared/operator/approval';
import {
  chooseConfigPath,
  explainAwsError,
  OperatorError,
  parseWholeNumber,
  resolveTarget,
  START_OPERATIONS,
  type ConfigFacts,
  type StartOperation,
  type Target,
  type TargetOptions,
} from '../lambdas/shared/operator/cli-commands';
import { discover, runHistory, runStart, runStatus, type OperatorPorts } from '../lambdas/shared/operator/commands';
import { runDalPolicy, type ArtifactReader } from '../lambdas/shared/operator/dal-policy';
import { fileAndStdin, readInputArgument } from '../lambdas/shared/operator/input-argument';
import { runSubscriptions, type ConfiguredAddresses, type SubscriptionAws } from '../lambdas/shared/operator/subscriptions';

interface CommonOptions extends TargetOptions {
  config?: string;
}

/** The gateway config's name and (for a real config file) region; see chooseConfigPath. */
function configFacts(flag: string | undefined): ConfigFacts {
  const cdkJsonFile = path.join(__dirname, '..', 'cdk.json');
  const cdkJson = fs.existsSync(cdkJsonFile) ? (JSON.parse(fs.readFileSync(cdkJsonFile, 'utf-8')) as unknown) : undefined;
  try {
    const { config, source } = loadGatewayConfig(chooseConfigPath({ flag, env: process.env.GATEWAY_CONFIG, cdkJson }));
    // The example's account and region are placeholders: only a real config says where the stack is.
    return { gatewayName: config.gatewayName, ...(source === 'built-in example' ? {} : { region: config.target.region }) };
  } catch (error) {
    throw new OperatorError((error as Error).message, 2);
  }
}

const targetOf = (opts: CommonOptions): Target => resolveTarget(opts, () => configFacts(opts.config));

/** The config's notifications addresses (`subscriptions`, `status`): the config `cdk deploy` would use, as configFacts. */
function configuredAddresses(flag: string | undefined): ConfiguredAddresses {
  const cdkJsonFile = path.join(__dirname, '..', 'cdk.json');
  const cdkJson = fs.existsSync(cdkJsonFile) ? (JSON.parse(fs.readFileSync(cdkJsonFile, 'utf-8')) as unknown) : undefined;
  try {
    const { config, source } = loadGatewayConfig(chooseConfigPath({ flag, env: process.env.GATEWAY_CONFIG, cdkJson }));
    return { gatewayName: config.gatewayName, source, ...config.notifications };
  } catch (error) {
    throw new OperatorError((error as Error).message, 2);
  }
}

/** For `status`: the addresses when the config is this gateway's and can be read; otherwise status names only pending ones. */
function statusAddresses(flag: string | undefined, gateway: string): ConfiguredAddresses | undefined {
  try {
    const configured = configuredAddresses(flag);
    return configured.gatewayName === gateway ? configured : undefined;
  } catch {
    return undefined;
  }
}

/** `start --input`: the whole execution input, so none of the flags that make one may come with it (exit 2). */
function startInputArgument(opts: StartFlags): Record<string, unknown> {
  const flags: Array<[string, unknown]> = [
    ['--version', opts.version],
    ['--bundle-key', opts.bundleKey],
    ['--expected-agent-version', opts.expectedAgentVersion],
    ['--reason', opts.reason],
    ['--sha256', opts.sha256],
    ['--allow-redeploy', opts.allowRedeploy],
    ['--allow-downgrade', opts.allowDowngrade],
    ['--operation', opts.operation === 'deploy' ? undefined : opts.operation],
  ];
  const both = flags.filter(([, value]) => value !== undefined).map(([flag]) => flag);
  if (both.length > 0) throw new OperatorError(`--input is the whole execution input: leave out ${both.join(', ')} (or put them in the input)`, 2);
  return readInputArgument('--input', opts.input!, fileAndStdin);
}

/** Real AWS behind the command ports; the clients are closed when the command is done. */
async function withPorts<T>(region: string | undefined, use: (ports: OperatorPorts & ArtifactReader & SubscriptionAws) => Promise<T>): Promise<T> {
  const aws = operatorAws({ region });
  const ports: OperatorPorts & ArtifactReader & SubscriptionAws = {
    ...aws,
    now: () => new Date(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    print: (line) => console.log(line),
  };
  try {
    return await use(ports);
  } finally {
    aws.destroy();
  }
}

async function runDecision(decision: Decision, execution: string, opts: CommonOptions & { reason: string; planSha256?: string }): Promise<void> {
  const target = targetOf(opts);
  const found = await withPorts(target.region, (ports) => discover(target, ports, ['ApprovalFunctionName']));
  const lambda = new LambdaClient({ region: found.region });
  try {
    const result = await decide(found.outputs.ApprovalFunctionName, execution, decision, { reason: opts.reason, ...(opts.planSha256 ? { planSha256: opts.planSha256 } : {}) }, {
      signProof: (digest) => signIdentityProof(digest, { region: found.region }),
      invoke: async (functionName, payload) => {
        const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
        const text = Buffer.from(out.Payload ?? []).toString('utf-8');
        if (out.FunctionError) throw new Error(`the approval function failed: ${text.slice(0, 500)}`);
        return JSON.parse(text) as { statusCode: number; body: Record<string, unknown> };
      },
    });
    console.log(
      `${result.decision === 'approve' ? 'Approved' : 'Rejected'} the plan (sha256 ${result.planSha256}) of execution ${result.executionName} (gateway ${result.gateway}) as ${result.decidedBy}.`,
    );
  } catch (error) {
    throw explainAwsError(error);
  } finally {
    lambda.destroy();
  }
}

interface StartFlags extends CommonOptions {
  version?: string;
  bundleKey?: string;
  expectedAgentVersion?: string;
  reason?: string;
  sha256?: string;
  allowRedeploy?: boolean;
  allowDowngrade?: boolean;
  operation: StartOperation;
  input?: string;
}

interface StatusFlags extends CommonOptions {
  limit: string;
  watch?: boolean;
  interval: string;
  json?: boolean;
  output: 'text' | 'json';
}

interface SubscriptionsFlags extends CommonOptions {
  resend?: boolean;
  json?: boolean;
  output: 'text' | 'json';
}

interface HistoryFlags extends CommonOptions {
  limit: string;
  json?: boolean;
  output: 'text' | 'json';
}

interface DalPolicyFlags extends CommonOptions {
  bucket?: string;
  json?: boolean;
  output: 'text' | 'json';
}

export function program(): Command {
  // exitOverride: commander's own usage errors (an unknown option, a bad --output) reach main() as CommanderError,
  // which exits 2 like every other usage error, instead of commander's process.exit(1). Subcommands inherit it.
  const cli = new Command('gateway-deployer').description('Operate the Compute Gateway deployer').showHelpAfterError().exitOverride();
  const withCommon = (cmd: Command) =>
    cmd
      .option('--gateway <name>', 'the gateway (default: gatewayName of the config)')
      .option('--config <file>', 'the gateway config, YAML or JSON (default: GATEWAY_CONFIG, else the built-in example)')
      .option('--stack <name>', 'the deployer stack (default: GatewayDeployer-<gateway>, as bin/app.ts names it)')
      .option('--region <region>', "its region (default: the config's target.region, else your AWS configuration)")
      .option('--profile <name>', 'the AWS CLI profile to use (default: AWS_PROFILE, else the default credential chain)');
  for (const decision of ['approve', 'reject'] as const) {
    withCommon(
      cli
        .command(decision)
        .description(decision === 'approve' ? 'apply the plan a run is waiting on' : 'refuse the plan; the run ends as failed, nothing applied')
        .requiredOption('--execution <name-or-arn>', 'the waiting execution (named in the approval mail and by `status`)')
        .requiredOption('--reason <text>', 'why; kept with the deployment record')
        .option('--plan-sha256 <hex>', 'the digest the approval request showed: refused if the run now waits on another plan'),
    ).action((opts: CommonOptions & { execution: string; reason: string; planSha256?: string }) => runDecision(decision, opts.execution, opts));
  }
  withCommon(
    cli
      .command('start')
      .description('start a deployment (or another operation) of the gateway; refused while one is running')
      .option('--version <semver>', 'the gateway module version: its bundle is <releasesPrefix>gateway-<version>.zip')
      .option('--bundle-key <s3 key>', 'or the bundle\'s key in the artifacts bucket, e.g. releases/gateway-0.8.1.zip')
      .option('--expected-agent-version <tag>', 'the agent version the vendor communicated; Verify compares it')
      .option('--reason <text>', 'why; kept in the deployment history')
      .option('--sha256 <hex>', "the bundle zip's sha256 as the vendor communicated it")
      .option('--allow-redeploy', 'deploy the version that is already deployed')
      .option('--allow-downgrade', 'deploy an older version than the deployed one')
      .addOption(new Option('--operation <operation>', 'what the run does').choices([...START_OPERATIONS]).default('deploy'))
      .option('--input <json|file://path|->', 'instead of the flags above: the execution input as typed in the console, from a file, or - for standard input'),
  ).action(async (opts: StartFlags) => {
    const target = targetOf(opts);
    const { input: given, ...flags } = opts;
    const input = given === undefined ? undefined : startInputArgument(opts);
    await withPorts(target.region, (ports) => runStart(target, input ? { input } : flags, ports));
  });
  withCommon(
    cli
      .command('status')
      .description('the lock holder and the latest executions: status, times, current state and progress')
      .option('--limit <n>', 'how many executions', '5')
      .option('--watch', 'print again every --interval seconds until no execution is running')
      .option('--interval <seconds>', 'seconds between looks with --watch', '10')
      .addOption(new Option('--output <format>', 'text, or json for scripts (with --watch: one JSON line per look)').choices(['text', 'json']).default('text'))
      .option('--json', 'the same as --output json'),
  ).action(async (opts: StatusFlags) => {
    const limit = parseWholeNumber(opts.limit, '--limit', 1, 100);
    const intervalSeconds = parseWholeNumber(opts.interval, '--interval', 1, 3600);
    const target = targetOf(opts);
    const notifications = statusAddresses(opts.config, target.gateway);
    await withPorts(target.region, (ports) =>
      runStatus(target, { limit, watch: opts.watch, intervalSeconds, json: opts.json || opts.output === 'json', ...(notifications ? { notifications } : {}) }, ports),
    );
  });
  withCommon(
    cli
      .command('history')
      .description("the gateway's deployment records, newest first: versions, outcome, approver, execution")
      .option('--limit <n>', 'how many records', '10')
      .addOption(new Option('--output <format>', 'text, or json for scripts').choices(['text', 'json']).default('text'))
      .option('--json', 'the same as --output json'),
  ).action(async (opts: HistoryFlags) => {
    const limit = parseWholeNumber(opts.limit, '--limit', 1, 1000);
    const target = targetOf(opts);
    await withPorts(target.region, (ports) => runHistory(target, { limit, json: opts.json || opts.output === 'json' }, ports));
  });
  withCommon(
    cli
      .command('dal-policy')
      .description("the HOWTO's bucket policy for each external data bucket (module.additional_data_buckets), naming the deployed gateway's DAL role")
      .option('--bucket <name>', 'only this bucket; in text, only its policy JSON: the file for `aws s3api put-bucket-policy --policy file://…`')
      .addOption(new Option('--output <format>', 'text, or json for scripts: { dalRoleArn, buckets: [{ bucket, policy }] }').choices(['text', 'json']).default('text'))
      .option('--json', 'the same as --output json'),
  ).action(async (opts: DalPolicyFlags) => {
    const target = targetOf(opts);
    await withPorts(target.region, (ports) => runDalPolicy(target, { json: opts.json || opts.output === 'json', ...(opts.bucket !== undefined ? { bucket: opts.bucket } : {}) }, ports));
  });
  withCommon(
    cli
      .command('subscriptions')
      .description("the e-mail subscriptions of the support and operators topics against the config's notifications addresses: confirmed, pending confirmation, or missing")
      .option('--resend', "send the confirmation mail again to each configured address that is not confirmed (sns:Subscribe); no other address")
      .addOption(new Option('--output <format>', 'text, or json for scripts').choices(['text', 'json']).default('text'))
      .option('--json', 'the same as --output json'),
  ).action(async (opts: SubscriptionsFlags) => {
    const target = targetOf(opts);
    const configured = configuredAddresses(opts.config);
    await withPorts(target.region, (ports) => runSubscriptions(target, { configured, resend: opts.resend, json: opts.json || opts.output === 'json' }, ports));
  });
  // --profile, like the AWS CLI's: every client the command makes takes its credentials from that profile.
  cli.hook('preAction', (_root, action) => {
    const profile = action.opts().profile as string | undefined;
    if (profile) process.env.AWS_PROFILE = profile;
  });
  return cli;
}

/** Runs the CLI on process.argv; `npm run deployer` and the `gateway-deployer` bin (bin/gateway-deployer.js) call it. */
export function main(): void {
  program()
    .parseAsync(process.argv)
    .catch((raw: Error) => {
      // Already printed by commander: --help and --version end here with 0, a usage error with 2.
      if (raw instanceof CommanderError) process.exit(raw.exitCode === 0 ? 0 : 2);
      const error = explainAwsError(raw) as Error;
      if (error instanceof OperatorError) {
        console.error(`error: ${error.message}`);
        process.exit(error.exitCode);
      }
      console.error(error instanceof ApprovalCommandError ? `error: ${error.message}` : `error: ${error.name}: ${error.message}`);
      process.exit(1);
    });
}

if (require.main === module) main();
