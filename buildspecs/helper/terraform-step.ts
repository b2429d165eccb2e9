/**
 * The CodeBuild side of the seed's "Running terraform init" and "Running terraform apply", bundled by esbuild
 * into the build's source: `node terraform-step.js plan|apply`. The buildspecs stay a few lines; everything that
 * can leak a secret or misjudge a plan is here, in TypeScript, with tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { redactPlan, redactText, summarizePlan, type TerraformPlan } from '../../lambdas/shared/domain/plan';
import { dalBucketPolicies } from '../../lambdas/shared/domain/bucket-policy';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import { runCommand, type CommandResult as TerraformResult } from './run-command';
import { contextFromEnv, getBytes, prepareWorkspace, putBytes, writeExports, type PreparedWorkspace, type StepContext } from './workspace';

const PLAN_FILE = 'tfplan';
const LOCK_FILE = '.terraform.lock.hcl';

export const planPrefix = (ctx: StepContext): string => `plans/${ctx.gateway}/${ctx.runId}/`;
export const reportPrefix = (ctx: StepContext): string => `reports/${ctx.gateway}/${ctx.runId}/`;

class StepFailed extends Error {}

async function run(ws: PreparedWorkspace, args: string[], opts: { echo?: boolean; raw?: boolean } = {}): Promise<TerraformResult> {
  console.log(`$ terraform ${args.join(' ')}`);
  return runCommand({
    bin: process.env.TF_BIN || 'terraform',
    args,
    cwd: ws.dir,
    env: { ...process.env, ...ws.tfVars, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' },
    secrets: ws.secrets,
    echo: opts.echo,
    captureRawStdout: opts.raw,
  });
}

/** Fails the step with a diagnosis written where the state machine and operators can read it. */
async function failWith(ctx: StepContext, step: 'plan' | 'apply', result: TerraformResult, exportsFile: string): Promise<never> {
  const diagnosis = diagnoseTerraformFailure(result.output);
  const key = `${reportPrefix(ctx)}${step}-failure.json`;
  await putBytes(ctx.bucket, key, JSON.stringify({ step, status: 'failed', exitCode: result.code, ...diagnosis }, null, 2), 'application/json');
  await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: diagnosis.failure, FAILURE_REPORT_KEY: key });
  console.error(`terraform ${step} failed: ${diagnosis.summary}. ${diagnosis.advice}`);
  throw new StepFailed(diagnosis.summary);
}

export async function plan(ctx: StepContext, exportsFile: string): Promise<void> {
  const ws = await prepareWorkspace(ctx);
  const init = await run(ws, ['init', '-input=false', '-no-color']);
  if (init.code !== 0) await failWith(ctx, 'plan', init, exportsFile);
  const planned = await run(ws, ['plan', '-input=false', '-no-color', `-out=${PLAN_FILE}`]);
  if (planned.code !== 0) await failWith(ctx, 'plan', planned, exportsFile);

  const shown = await run(ws, ['show', '-json', PLAN_FILE], { echo: false, raw: true });
  if (shown.code !== 0) await failWith(ctx, 'plan', shown, exportsFile);
  const redacted = redactPlan(JSON.parse(shown.rawStdout) as TerraformPlan, ws.secrets);
  const summary = summarizePlan(redacted);
  const text = await run(ws, ['show', '-no-color', PLAN_FILE], { echo: false });

  const prefix = planPrefix(ctx);
  // The plan binary holds the values in clear (Terraform needs them to apply); it stays KMS-encrypted in S3.
  await putBytes(ctx.bucket, `${prefix}${PLAN_FILE}`, await fs.promises.readFile(path.join(ws.dir, PLAN_FILE)), 'application/octet-stream');
  await putBytes(ctx.bucket, `${prefix}terraform.lock.hcl`, await fs.promises.readFile(path.join(ws.dir, LOCK_FILE)).catch(() => ''), 'text/plain');
  await putBytes(ctx.bucket, `${prefix}plan.json`, JSON.stringify(redacted), 'application/json');
  await putBytes(ctx.bucket, `${prefix}plan.txt`, redactText(text.output, ws.secrets), 'text/plain');
  // The outputs as they will be after this plan: Verify reads them when there was nothing to apply.
  await putBytes(ctx.bucket, `${prefix}outputs.json`, JSON.stringify({ outputs: plannedOutputs(redacted) }, null, 2), 'application/json');
  console.log(summary.line);
  await writeExports(exportsFile, {
    STEP_STATUS: 'succeeded',
    PLAN_PREFIX: prefix,
    PLAN_JSON_KEY: `${prefix}plan.json`,
    PLAN_TEXT_KEY: `${prefix}plan.txt`,
    PLAN_ADD: summary.add,
    PLAN_CHANGE: summary.change,
    PLAN_DESTROY: summary.destroy,
    PLAN_HAS_CHANGES: summary.hasChanges,
  });
}

/** Known, non-sensitive output values after the plan (sensitive ones are already masked by redactPlan). */
export function plannedOutputs(plan: TerraformPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, change] of Object.entries(plan.output_changes ?? {})) {
    if (change.after_sensitive === true || change.after_unknown === true || change.actions.includes('delete')) continue;
    out[name] = change.after;
  }
  return out;
}

export interface ApplyReport {
  readonly status: 'applied';
  readonly outputs: Record<string, unknown>;
  readonly sensitiveOutputs: string[];
  /** The seed's bucket policy for each additional data bucket, with the real dal_role_arn. */
  readonly dataBucketPolicies?: Record<string, object>;
}

/** Non-sensitive outputs as values; sensitive ones only by name. */
export function splitOutputs(raw: Record<string, { value: unknown; sensitive?: boolean }>, secrets: readonly string[]): ApplyReport {
  const outputs: Record<string, unknown> = {};
  const sensitiveOutputs: string[] = [];
  for (const [name, output] of Object.entries(raw)) {
    if (output.sensitive) sensitiveOutputs.push(name);
    else outputs[name] = output.value;
  }
  return { status: 'applied', outputs: JSON.parse(redactText(JSON.stringify(outputs), secrets)), sensitiveOutputs };
}

export async function apply(ctx: StepContext, planPrefixKey: string, exportsFile: string): Promise<void> {
  const ws = await prepareWorkspace(ctx);
  await fs.promises.writeFile(path.join(ws.dir, PLAN_FILE), await getBytes(ctx.bucket, `${planPrefixKey}${PLAN_FILE}`), { mode: 0o600 });
  const lock = await getBytes(ctx.bucket, `${planPrefixKey}terraform.lock.hcl`);
  // The same provider versions as the plan: a saved plan only applies with the providers it was made with.
  if (lock.length > 0) await fs.promises.writeFile(path.join(ws.dir, LOCK_FILE), lock);

  const init = await run(ws, ['init', '-input=false', '-no-color']);
  if (init.code !== 0) await failWith(ctx, 'apply', init, exportsFile);
  // Exactly the reviewed plan: applying a saved plan never re-plans, and Terraform refuses it if the state moved.
  const applied = await run(ws, ['apply', '-input=false', '-no-color', PLAN_FILE]);
  if (applied.code !== 0) await failWith(ctx, 'apply', applied, exportsFile);

  const out = await run(ws, ['output', '-json', '-no-color'], { echo: false, raw: true });
  if (out.code !== 0) await failWith(ctx, 'apply', out, exportsFile);
  const outputs = splitOutputs(JSON.parse(out.rawStdout || '{}'), ws.secrets);
  const buckets = (process.env.DATA_BUCKETS ?? '').split(',').filter(Boolean);
  const report: ApplyReport = { ...outputs, dataBucketPolicies: dalBucketPolicies(outputs.outputs.dal_role_arn, buckets) };
  const key = `${reportPrefix(ctx)}apply.json`;
  await putBytes(ctx.bucket, key, JSON.stringify(report, null, 2), 'application/json');
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  await writeExports(exportsFile, {
    STEP_STATUS: 'succeeded',
    APPLY_REPORT_KEY: key,
    CLUSTER_NAME: str(report.outputs.cluster_name),
    CLUSTER_ENDPOINT: str(report.outputs.endpoint),
    DAL_ROLE_ARN: str(report.outputs.dal_role_arn),
  });
}

async function main(argv: string[]): Promise<number> {
  const command = argv[2];
  const ctx = contextFromEnv(process.env);
  const exportsFile = process.env.STEP_EXPORTS || path.join(path.dirname(path.resolve(ctx.workDir)), 'step-exports.env');
  try {
    if (command === 'plan') await plan(ctx, exportsFile);
    else if (command === 'apply') await apply(ctx, process.env.PLAN_PREFIX || planPrefix(ctx), exportsFile);
    else throw new Error(`usage: terraform-step.js plan|apply (got ${JSON.stringify(command)})`);
    return 0;
  } catch (error) {
    if (!(error instanceof StepFailed)) {
      console.error(`${(error as Error).name}: ${(error as Error).message}`);
      await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: 'setup', FAILURE_MESSAGE: (error as Error).message.slice(0, 500) });
    }
    return 1;
  } finally {
    if (process.env.KEEP_WORK_DIR !== 'true') await fs.promises.rm(ctx.workDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code));
}
