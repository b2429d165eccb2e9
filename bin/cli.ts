#!/usr/bin/env node
/**
 * The operator CLI: `npm run deployer -- <command>`. It finds the deployed stack's resources from its outputs,
 * so the only inputs are the stack name, the region and the operator's AWS credentials.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Command } from 'commander';
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
