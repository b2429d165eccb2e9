#!/usr/bin/env node
/**
 * The operator CLI: `npm run deployer -- <command>`. It finds the deployed stack's resources from its outputs,
 * so the only inputs are the stack name, the region and the operator's AWS credentials.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Command, Option } from 'commander';
import { ApprovalCommandError, decide, type Decision } from '../lambdas/shared/operator/approval';

interface CommonOptions {
  stack: string;
  region?: string;
  table?: string;
}

async function stackOutput(stack: string, region: string | undefined, key: string): Promise<string> {
  const cfn = new CloudFormationClient({ region });
  let outputs;
  try {
    outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    throw new ApprovalCommandError(`cannot read stack ${stack}${region ? ` in ${region}` : ''}: ${(error as Error).message} (check --stack, --region and your AWS credentials)`);
  }
  const value = outputs.find((o) => o.OutputKey === key)?.OutputValue;
  if (!value) throw new ApprovalCommandError(`stack ${stack} has no output ${key}; is it a gateway deployer stack?`);
  return value;
}

async function runDecision(decision: Decision, execution: string, opts: CommonOptions & { reason: string }): Promise<void> {
  const table = opts.table ?? (await stackOutput(opts.stack, opts.region, 'DeploymentsTableName'));
  const sfn = new SFNClient({ region: opts.region });
  const sts = new STSClient({ region: opts.region });
  const result = await decide(table, execution, decision, opts.reason, {
    whoAmI: async () => (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown',
    sendSuccess: async (taskToken, output) => void (await sfn.send(new SendTaskSuccessCommand({ taskToken, output }))),
    sendFailure: async (taskToken, error, cause) => void (await sfn.send(new SendTaskFailureCommand({ taskToken, error, cause }))),
    now: () => new Date(),
  });
  console.log(`${result.decision === 'approve' ? 'Approved' : 'Rejected'} the plan of execution ${result.executionName} (gateway ${result.gateway}) as ${result.decidedBy}.`);
}

interface RehearseOptions {
  bundle?: string;
  values?: string;
  config?: string;
  input?: string;
  approve: 'approve' | 'reject' | 'timeout';
  trigger: 'console' | 's3';
  agentVersion?: string;
  connectivity: 'pass' | 'fail';
  report?: string;
  dump?: string;
  stateDir?: string;
  workDir?: string;
}

/** Exit codes: 0 the run succeeded, 1 it failed as designed (the report says where), 2 the rehearsal itself broke. */
async function runRehearsal(opts: RehearseOptions): Promise<number> {
  // Loaded here: the rehearsal pulls in CDK, the stand-ins and the emulator, which approve/reject never need.
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { parse: parseYaml } = await import('yaml');
  const { startMoto } = await import('../test/integration/support/moto');
  const { rehearse } = await import('../test/rehearsal/harness');
  const read = (file: string) => fs.readFileSync(path.resolve(file), 'utf-8');
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-rehearsal-'));
  const moto = await startMoto();
  try {
    console.log(`Rehearsal in ${workDir} against moto_server at ${moto.endpoint} (fake credentials; nothing reaches AWS)\n`);
    const report = await rehearse({
      motoEndpoint: moto.endpoint,
      workDir,
      ...(opts.bundle ? { bundlePath: path.resolve(opts.bundle) } : {}),
      ...(opts.values ? { valuesYaml: read(opts.values) } : {}),
      ...(opts.config ? { config: parseYaml(read(opts.config)) } : {}),
      ...(opts.input ? { input: JSON.parse(opts.input) } : {}),
      ...(opts.agentVersion ? { agentVersion: opts.agentVersion } : {}),
      approve: opts.approve,
      trigger: opts.trigger,
      connectivity: opts.connectivity,
      print: (line) => console.log(line),
      ...(opts.dump ? { dumpDir: path.resolve(opts.dump) } : {}),
      ...(opts.stateDir ? { stateDir: path.resolve(opts.stateDir) } : {}),
    });
    console.log(`\n${report.status}${report.error ? `: ${report.error}` : ''}`);
    if (report.cause) console.log(report.cause);
    for (const n of report.notifications) console.log(`\n--- notification to ${n.topic}: ${n.subject}\n${n.message}`);
    if (opts.report) fs.writeFileSync(path.resolve(opts.report), JSON.stringify(report, null, 2));
    return report.status === 'SUCCEEDED' ? 0 : 1;
  } finally {
    await moto.stop();
  }
}

export function program(): Command {
  const cli = new Command('gateway-deployer').description('Operate the Compute Gateway deployer').showHelpAfterError();
  const withCommon = (cmd: Command) =>
    cmd
      .option('--stack <name>', 'the deployer stack', 'GatewayDeployer-gateway')
      .option('--region <region>', 'its region (default: from your AWS configuration)')
      .option('--table <name>', 'the deployments table (default: from the stack outputs)');
  for (const decision of ['approve', 'reject'] as const) {
    withCommon(
      cli
        .command(decision)
        .description(decision === 'approve' ? 'apply the plan a run is waiting on' : 'refuse the plan; the run ends as failed, nothing applied')
        .requiredOption('--execution <name-or-arn>', 'the waiting execution (named in the approval mail)')
        .requiredOption('--reason <text>', 'why; kept with the deployment record'),
    ).action((opts: CommonOptions & { execution: string; reason: string }) => runDecision(decision, opts.execution, opts));
  }
  cli
    .command('rehearse')
    .description('run the whole deployment offline: the synthesized state machine, real handlers, buildspecs, terraform and kubectl')
    .option('--bundle <zip>', 'a gateway-<version>.zip (its file name gives the version); default: the sample module as 1.0.0')
    .option('--values <yaml>', "the values.yaml to store as the values secret; default: sample values")
    .option('--config <file>', 'a gateway config (YAML or JSON); default: the built-in example')
    .option('--input <json>', 'the execution input exactly as typed in the console; default: {"version": <bundle version>}')
    .addOption(new Option('--trigger <how>', 'console: start the run with the input; s3: upload the bundle and let the release trigger start it').choices(['console', 's3']).default('console'))
    .addOption(new Option('--approve <decision>', 'how the operator answers the approval request').choices(['approve', 'reject', 'timeout']).default('approve'))
    .option('--agent-version <tag>', 'the agent version the stand-in cluster runs; default: the bundle version')
    .addOption(new Option('--connectivity <result>', 'the outcome of helm test on the stand-in').choices(['pass', 'fail']).default('pass'))
    .option('--report <file>', 'write the JSON report (status, error, states in order, notifications) here')
    .option('--state-dir <dir>', 'keep the emulator data and Terraform state here between rehearsals (upgrade from one bundle to the next)')
    .option('--dump <dir>', 'write the execution history, notifications, build and handler logs and every S3 object left here')
    .option('--work-dir <dir>', 'where builds and logs go (default: a new temporary folder)')
    .action(async (opts: RehearseOptions) => {
      process.exitCode = await runRehearsal(opts).catch((error: Error) => {
        console.error(`rehearsal error: ${error.stack ?? error.message}`);
        return 2;
      });
    });
  return cli;
}

if (require.main === module) {
  program()
    .parseAsync(process.argv)
    .catch((error: Error) => {
      console.error(error instanceof ApprovalCommandError ? `error: ${error.message}` : `error: ${error.name}: ${error.message}`);
      process.exit(1);
    });
}
