#!/usr/bin/env node
/**
 * `npm run rehearse -- [options]`: the whole deployment offline (test/rehearsal/harness.ts) from the command line.
 * A developer's and evaluator's command, not part of the operator CLI (bin/cli.ts): it runs the emulator, the
 * stand-ins and test fixtures, which an operator's `gateway-deployer` never loads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { loadGatewayConfig } from '../../lib/config';
import { OperatorError } from '../../lambdas/shared/operator/cli-commands';
import { checkRehearsalArguments } from '../../lambdas/shared/operator/rehearsal-arguments';
import { findOnPath, startMoto } from '../integration/support/moto';

interface RehearseOptions {
  bundle?: string;
  values?: string;
  config?: string;
  input?: string;
  approve: 'approve' | 'reject' | 'timeout' | 'forged' | 'swapped-plan';
  trigger: 'console' | 's3';
  agentVersion?: string;
  connectivity: 'pass' | 'fail';
  preexistingRelease?: 'unmanaged' | 'flux' | 'argocd';
  report?: string;
  dump?: string;
  stateDir?: string;
  workDir?: string;
  verbose?: boolean;
}

/** Exit codes: 0 the run succeeded, 1 it failed as designed (the report says where), 2 the rehearsal itself broke. */
async function runRehearsal(opts: RehearseOptions): Promise<number> {
  // Every argument first: a wrong one is named before seconds of synth and emulator start.
  const checked = checkRehearsalArguments(opts, { onPath: (command) => findOnPath(command) !== undefined });
  const config = checked.configPath ? loadGatewayConfig(checked.configPath).config : undefined;
  // Loaded only now: the harness pulls in CDK, the stand-ins and the emulator, seconds before an argument error.
  const { rehearse } = await import('./harness');
  const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-rehearsal-'));
  // The emulator answers as the config's account, so the config is rehearsed as written.
  const moto = await startMoto(config ? { env: { MOTO_ACCOUNT_ID: config.target.account } } : {});
  const keep = opts.workDir !== undefined || opts.dump !== undefined;
  try {
    console.log(
      `Rehearsal in ${workDir}${keep ? '' : ' (removed at the end; --work-dir or --dump keeps it)'} against moto_server at ${moto.endpoint} ` +
        '(fake credentials; nothing reaches AWS)\n',
    );
    const report = await rehearse({
      motoEndpoint: moto.endpoint,
      workDir,
      ...(checked.bundlePath ? { bundlePath: checked.bundlePath } : {}),
      ...(checked.valuesYaml !== undefined ? { valuesYaml: checked.valuesYaml } : {}),
      ...(config ? { config } : {}),
      ...(checked.input !== undefined ? { input: checked.input } : {}),
      ...(opts.agentVersion ? { agentVersion: opts.agentVersion } : {}),
      approve: opts.approve,
      trigger: opts.trigger,
      connectivity: opts.connectivity,
      ...(opts.preexistingRelease ? { preexistingRelease: opts.preexistingRelease } : {}),
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
    if (!keep) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

export function rehearseProgram(): Command {
  return new Command('rehearse')
    .description('run the whole deployment offline: the synthesized state machine, real handlers, buildspecs, terraform and kubectl')
    .option('--bundle <zip>', 'a gateway-<version>.zip (its file name gives the version); default: the sample module as 1.0.0')
    .option('--values <yaml>', "the values.yaml to store as the values secret; default: sample values")
    .option('--config <file>', 'a gateway config (YAML or JSON); default: the built-in example')
    .option('--input <json|file>', 'the execution input exactly as typed in the console, or a file holding it; default: {"version": <bundle version>}')
    .addOption(new Option('--trigger <how>', 'console: start the run with the input; s3: upload the bundle and let the release trigger start it').choices(['console', 's3']).default('console'))
    .addOption(new Option('--approve <decision>', 'how the operator answers the approval request').choices(['approve', 'reject', 'timeout', 'forged', 'swapped-plan']).default('approve'))
    .option('--agent-version <tag>', 'the agent version the stand-in cluster runs; default: the bundle version')
    .addOption(new Option('--connectivity <result>', 'the outcome of helm test on the stand-in').choices(['pass', 'fail']).default('pass'))
    .addOption(
      new Option('--preexisting-release [owner]', 'a Helm release apheris-gateway exists on the stand-in that Terraform does not know; owner: nobody (unmanaged), flux or argocd')
        .choices(['unmanaged', 'flux', 'argocd'])
        .preset('unmanaged'),
    )
    .option('--report <file>', 'write the JSON report (status, error, states in order, notifications) here')
    .option('--state-dir <dir>', 'keep the emulator data and Terraform state here between rehearsals (upgrade from one bundle to the next)')
    .option('--dump <dir>', 'write the execution history, notifications, build and handler logs and every S3 object left here')
    .option('--work-dir <dir>', 'where builds and logs go (default: a new temporary folder)')
    .option('--verbose', 'with an error of the rehearsal itself, print its stack trace')
    .action(async (opts: RehearseOptions) => {
      process.exitCode = await runRehearsal(opts).catch((error: Error) => {
        console.error(`rehearsal error: ${opts.verbose ? (error.stack ?? error.message) : error.message}`);
        return error instanceof OperatorError ? error.exitCode : 2;
      });
    });
}

if (require.main === module) {
  rehearseProgram()
    .showHelpAfterError()
    .parseAsync(process.argv)
    .catch((error: Error) => {
      console.error(`rehearsal error: ${error.message}`);
      process.exit(2);
    });
}
