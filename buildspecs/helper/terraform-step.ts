/**
 * The CodeBuild side of the HOWTO's "Running terraform init" and "Running terraform apply", bundled by esbuild
 * into the build's source: `node terraform-step.js <command>`, the command from TERRAFORM_COMMAND (the Plan
 * buildspec defaults it to `plan`, the Apply buildspec to `apply`; the state machine may override it):
 * - `plan`, `apply`: a deployment.
 * - `list-vpc` (Plan project), `detach-vpc` (Apply project): the HOWTO's FAQ "Can I manage the AWS VPC setup?".
 * The buildspecs stay a few lines; everything that can leak a secret or misjudge a plan is here, in
 * TypeScript, with tests.
 */
import { confirmRunHoldsLock } from './run-lock';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { redactPlan, redactText, secretRedactor, summarizePlan, type TerraformPlan } from '../../lambdas/shared/domain/plan';
import { dalAccessReport, type DalAccessReport } from '../../lambdas/shared/domain/bucket-policy';
import {
  DETACH_LIST_FILE,
  DETACH_RESULT_FILE,
  compareWithApproved,
  parseApprovedList,
  stateListLines,
  vpcAddresses,
  type DetachListReport,
  type DetachResultReport,
} from '../../lambdas/shared/domain/detach-vpc';
import { mentionsNameReuse } from '../../lambdas/shared/domain/helm-name-reuse';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import { readZipEntry } from '../../lambdas/shared/adapters/zip-reader';
import { runCommand, type CommandResult as TerraformResult } from './run-command';
import { contextFromEnv, getBytes, latestVersionId, prepareWorkspace, putBytes, writeExports, type PreparedWorkspace, type StepContext } from './workspace';

export { vpcAddresses };

export const COMMANDS = ['plan', 'apply', 'list-vpc', 'detach-vpc'] as const;
export type StepCommand = (typeof COMMANDS)[number];

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

/**
 * The redacted plan.json Plan stored beside the approved plan binary, or null when it cannot be read. Only the name
 * reuse needs it: its resource_changes give the failing helm_release's name and namespace.
 */
export async function storedPlan(bucket: string, prefix: string): Promise<TerraformPlan | null> {
  try {
    return JSON.parse((await getBytes(bucket, `${prefix}plan.json`)).toString('utf-8')) as TerraformPlan;
  } catch (error) {
    console.error(`the plan s3://${bucket}/${prefix}plan.json could not be read: ${(error as Error).message}`);
    return null;
  }
}

/** Fails the step with a diagnosis written where the state machine and operators can read it. */
async function failWith(
  ctx: StepContext,
  step: StepCommand,
  result: TerraformResult,
  exportsFile: string,
  extra: Record<string, string> = {},
  planOf?: () => Promise<TerraformPlan | null>,
): Promise<never> {
  // The name reuse is about the release the failing resource installs: the plan says which one.
  const plan = planOf && mentionsNameReuse(result.output) ? await planOf() : undefined;
  const diagnosis = diagnoseTerraformFailure(result.output, { plan });
  const key = `${reportPrefix(ctx)}${step}-failure.json`;
  await putBytes(ctx.bucket, key, JSON.stringify({ step, status: 'failed', exitCode: result.code, ...diagnosis, ...extra }, null, 2), 'application/json');
  await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: diagnosis.failure, FAILURE_REPORT_KEY: key, ...extra });
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

  const prefix = planPrefix(ctx);
  // The plan binary holds the values in clear (Terraform needs them to apply); it stays KMS-encrypted in S3.
  // Its digest and version id travel to the approval and to Apply, which acts on exactly these bytes.
  const planBytes = await fs.promises.readFile(path.join(ws.dir, PLAN_FILE));
  const [planVersionId] = await Promise.all([
    putBytes(ctx.bucket, `${prefix}${PLAN_FILE}`, planBytes, 'application/octet-stream'),
    // A copy for reviewers: which provider packages, by checksum. Apply reads the one inside the plan binary.
    fs.promises
      .readFile(path.join(ws.dir, LOCK_FILE))
      .catch(() => '')
      .then((body) => putBytes(ctx.bucket, `${prefix}terraform.lock.hcl`, body, 'text/plain')),
    putBytes(ctx.bucket, `${prefix}plan.json`, JSON.stringify(redacted), 'application/json'),
    // For reviewers: what `terraform plan` printed, redacted (no second `terraform show` run for the text).
    putBytes(ctx.bucket, `${prefix}plan.txt`, redactText(planned.output, ws.secrets), 'text/plain'),
    // The outputs as they will be after this plan: Verify reads them when there was nothing to apply, and so does the
    // success notice for the DAL bucket policies (made here, as Apply makes them, from the planned dal_role_arn).
    putBytes(ctx.bucket, `${prefix}outputs.json`, JSON.stringify(plannedOutputsReport(redacted), null, 2), 'application/json'),
  ]);
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
    PLAN_SHA256: sha256Of(planBytes),
    PLAN_VERSION_ID: planVersionId ?? UNVERSIONED,
  });
}

/** PLAN_VERSION_ID of an object in a bucket without versioning (the deployer's buckets are versioned). */
export const UNVERSIONED = 'unversioned';

export const sha256Of = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** The approved object, as PLAN_SHA256 and PLAN_VERSION_ID name it (the state machine passes what was approved). */
export interface ApprovedObject {
  readonly key: string;
  readonly sha256: string;
  readonly versionId: string;
}

export function approvedFromEnv(env: NodeJS.ProcessEnv, key: string): ApprovedObject {
  const sha256 = env.PLAN_SHA256 ?? '';
  const versionId = env.PLAN_VERSION_ID ?? '';
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`PLAN_SHA256 ${JSON.stringify(sha256)} is not a sha256: the state machine passes the approved digest; nothing was applied`);
  if (!versionId) throw new Error('PLAN_VERSION_ID is not set: the state machine passes the approved version; nothing was applied');
  return { key, sha256, versionId };
}

/**
 * The approved bytes, or a PlanChanged failure before anything runs: the object is read at the approved version,
 * its digest must be the approved one, and it must still be the latest version (an overwrite after the approval
 * is tampering, even though the approved version is still there).
 */
export async function fetchApproved(ctx: StepContext, step: StepCommand, approved: ApprovedObject, exportsFile: string): Promise<Buffer> {
  const versioned = approved.versionId !== UNVERSIONED;
  const bytes = await getBytes(ctx.bucket, approved.key, versioned ? approved.versionId : undefined);
  const actual = sha256Of(bytes);
  let problem: string | null = null;
  if (actual !== approved.sha256) problem = `s3://${ctx.bucket}/${approved.key} has sha256 ${actual}, but sha256 ${approved.sha256} was approved`;
  else if (versioned) {
    const latest = await latestVersionId(ctx.bucket, approved.key);
    if (latest !== approved.versionId) problem = `s3://${ctx.bucket}/${approved.key} was overwritten after the approval (version ${latest ?? 'none'}, approved ${approved.versionId})`;
  }
  if (!problem) return bytes;
  const key = `${reportPrefix(ctx)}${step}-failure.json`;
  const summary = `PlanChanged: ${problem}`;
  const advice = 'Nothing was applied. Something wrote to the plans/ prefix after the approval: find out who (S3 server access logs, CloudTrail), then start a new run.';
  await putBytes(ctx.bucket, key, JSON.stringify({ step, status: 'failed', failure: 'plan-changed', summary, advice }, null, 2), 'application/json');
  await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: 'plan-changed', FAILURE_REPORT_KEY: key, FAILURE_MESSAGE: summary.slice(0, 500) });
  console.error(`${step} refused: ${summary}. ${advice}`);
  throw new StepFailed(summary);
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

/** DATA_BUCKETS: module.additional_data_buckets of the deployed config (both projects have it). */
const dataBuckets = (): string[] => (process.env.DATA_BUCKETS ?? '').split(',').filter(Boolean);

/** The Plan's outputs.json: the planned outputs, and the HOWTO's bucket policies made from their dal_role_arn. */
export function plannedOutputsReport(plan: TerraformPlan, buckets: readonly string[] = dataBuckets()): { outputs: Record<string, unknown> } & DalAccessReport {
  const outputs = plannedOutputs(plan);
  return { outputs, ...dalAccessReport(outputs.dal_role_arn, buckets) };
}

export interface ApplyReport {
  readonly status: 'applied';
  readonly outputs: Record<string, unknown>;
  readonly sensitiveOutputs: string[];
  /** module.additional_data_buckets, as DATA_BUCKETS gave them. */
  readonly dataBuckets?: string[];
  /** The HOWTO's bucket policy for each additional data bucket, with the real dal_role_arn. */
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
  // Before anything else: the approved plan, or nothing is done.
  const approvedPlan = await fetchApproved(ctx, 'apply', approvedFromEnv(process.env, `${planPrefixKey}${PLAN_FILE}`), exportsFile);
  const ws = await prepareWorkspace(ctx);
  await fs.promises.writeFile(path.join(ws.dir, PLAN_FILE), approvedPlan, { mode: 0o600 });
  // The providers the approved plan was made with, by checksum: the lock file inside the approved plan binary (bound
  // by its digest), not a separate object. `terraform init` then refuses a provider package, from the registry, a
  // mirror or the build cache Plan also writes, whose checksum is not in it, before any provider runs.
  const lock = await readZipEntry('the approved plan', approvedPlan, LOCK_FILE);
  if (lock) await fs.promises.writeFile(path.join(ws.dir, LOCK_FILE), lock);

  const init = await run(ws, ['init', '-input=false', '-no-color']);
  if (init.code !== 0) await failWith(ctx, 'apply', init, exportsFile);
  // Exactly the reviewed plan: applying a saved plan never re-plans, and Terraform refuses it if the state moved.
  const applied = await run(ws, ['apply', '-input=false', '-no-color', PLAN_FILE]);
  if (applied.code !== 0) await failWith(ctx, 'apply', applied, exportsFile, {}, () => storedPlan(ctx.bucket, planPrefixKey));

  const out = await run(ws, ['output', '-json', '-no-color'], { echo: false, raw: true });
  if (out.code !== 0) await failWith(ctx, 'apply', out, exportsFile);
  const outputs = splitOutputs(JSON.parse(out.rawStdout || '{}'), ws.secrets);
  const report: ApplyReport = { ...outputs, ...dalAccessReport(outputs.outputs.dal_role_arn, dataBuckets()) };
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

/** The workspace's s3 backend (backend.tf.json, as RenderWorkspace wrote it): where the state lives. */
export function stateLocationOf(backendJson: unknown): { bucket: string; key: string } {
  const s3 = (backendJson as { terraform?: { backend?: { s3?: { bucket?: unknown; key?: unknown } } } })?.terraform?.backend?.s3;
  if (typeof s3?.bucket !== 'string' || typeof s3?.key !== 'string') throw new Error('backend.tf.json has no s3 backend with a bucket and a key');
  // RenderWorkspace escapes template sequences in literal strings; undo it to get the real names.
  const unescape = (v: string) => v.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{');
  return { bucket: unescape(s3.bucket), key: unescape(s3.key) };
}

async function stateLocation(ws: PreparedWorkspace): Promise<{ bucket: string; key: string }> {
  return stateLocationOf(JSON.parse(await fs.promises.readFile(path.join(ws.dir, 'backend.tf.json'), 'utf-8')));
}

/** `terraform state list`; its stdout is addresses only, read raw and printed by the caller. */
async function stateList(ctx: StepContext, ws: PreparedWorkspace, step: StepCommand, exportsFile: string, extra: Record<string, string> = {}): Promise<string[]> {
  const listed = await run(ws, ['state', 'list'], { echo: false, raw: true });
  if (listed.code !== 0) await failWith(ctx, step, listed, exportsFile, extra);
  return stateListLines(listed.rawStdout);
}

export const detachListKey = (ctx: StepContext): string => `${reportPrefix(ctx)}${DETACH_LIST_FILE}`;
export const stateBackupKey = (ctx: StepContext): string => `backups/${ctx.gateway}/${ctx.runId}/terraform.tfstate`;

/**
 * `list-vpc` (Plan project): the module.vpc addresses of the state, as the list an operator approves. Reads
 * only: `terraform init` and `terraform state list`.
 */
export async function listVpc(ctx: StepContext, exportsFile: string): Promise<void> {
  const ws = await prepareWorkspace(ctx);
  const init = await run(ws, ['init', '-input=false', '-no-color']);
  if (init.code !== 0) await failWith(ctx, 'list-vpc', init, exportsFile);
  const state = await stateLocation(ws);
  const addresses = vpcAddresses(await stateList(ctx, ws, 'list-vpc', exportsFile));

  const report: DetachListReport = {
    operation: 'detach-vpc',
    status: 'listed',
    gateway: ctx.gateway,
    runId: ctx.runId,
    stateBucket: state.bucket,
    stateKey: state.key,
    addresses,
    listedAt: new Date().toISOString(),
  };
  const key = detachListKey(ctx);
  const body = JSON.stringify(report, null, 2);
  const versionId = await putBytes(ctx.bucket, key, body, 'application/json');
  console.log(`${addresses.length} module.vpc address(es) in s3://${state.bucket}/${state.key}:`);
  const redact = secretRedactor(ws.secrets);
  for (const address of addresses) console.log(`  ${redact(address)}`);
  await writeExports(exportsFile, {
    STEP_STATUS: 'succeeded',
    DETACH_REPORT_KEY: key,
    DETACH_COUNT: addresses.length,
    // The list is what a detach-vpc approval approves: DetachVpc reads exactly these bytes.
    PLAN_SHA256: sha256Of(body),
    PLAN_VERSION_ID: versionId ?? UNVERSIONED,
  });
}

/**
 * `detach-vpc` (Apply project), after an operator approved the list: `terraform state rm` of exactly the
 * approved addresses, in one call, after a backup of the state in the deployer's state bucket. Refuses
 * (FAILURE_CLASS state-changed) when the state's module.vpc addresses are no longer the approved ones. The
 * state is never printed: it holds the values in clear.
 */
export async function detachVpc(ctx: StepContext, listKey: string, stateBucket: string, exportsFile: string): Promise<void> {
  if (!listKey.startsWith(`reports/${ctx.gateway}/`)) throw new Error(`DETACH_REPORT_KEY ${JSON.stringify(listKey)} is not a report of gateway ${ctx.gateway}`);
  const ws = await prepareWorkspace(ctx);
  const init = await run(ws, ['init', '-input=false', '-no-color']);
  if (init.code !== 0) await failWith(ctx, 'detach-vpc', init, exportsFile);
  const state = await stateLocation(ws);
  const listed = await fetchApproved(ctx, 'detach-vpc', approvedFromEnv(process.env, listKey), exportsFile);
  const approved = parseApprovedList(JSON.parse(listed.toString('utf-8')), { gateway: ctx.gateway, stateKey: state.key });
  console.log(`approved list s3://${ctx.bucket}/${listKey}: ${approved.length} module.vpc address(es)`);

  const before = await stateList(ctx, ws, 'detach-vpc', exportsFile);
  const current = vpcAddresses(before);
  const difference = compareWithApproved(approved, current);
  if (difference) {
    const key = `${reportPrefix(ctx)}detach-vpc-failure.json`;
    const summary = 'the module.vpc resources in the Terraform state are no longer the approved ones';
    const advice = 'Something changed the state since the list was approved; start a new detach-vpc run and approve the new list.';
    await putBytes(ctx.bucket, key, JSON.stringify({ step: 'detach-vpc', status: 'failed', failure: 'state-changed', summary, advice, ...difference }, null, 2), 'application/json');
    await writeExports(exportsFile, { STEP_STATUS: 'failed', FAILURE_CLASS: 'state-changed', FAILURE_REPORT_KEY: key });
    console.error(`detach-vpc refused: ${summary} (${difference.added.length} new, ${difference.missing.length} gone). Nothing was removed. ${advice}`);
    throw new StepFailed(summary);
  }

  const resultKey = `${reportPrefix(ctx)}${DETACH_RESULT_FILE}`;
  const result = (status: DetachResultReport['status'], remainingCount: number, backup?: DetachResultReport['backup']): DetachResultReport => ({
    operation: 'detach-vpc',
    status,
    gateway: ctx.gateway,
    runId: ctx.runId,
    stateBucket: state.bucket,
    stateKey: state.key,
    removed: status === 'detached' ? approved : [],
    ...(backup ? { backup } : {}),
    remainingCount,
    detachedAt: new Date().toISOString(),
  });
  if (approved.length === 0) {
    await putBytes(ctx.bucket, resultKey, JSON.stringify(result('nothing-to-detach', before.length), null, 2), 'application/json');
    console.log('nothing to detach: the state has no module.vpc resources');
    await writeExports(exportsFile, { STEP_STATUS: 'succeeded', DETACH_REPORT_KEY: resultKey, DETACH_COUNT: 0 });
    return;
  }

  // The backup first: `terraform state rm` rewrites the state, and this copy is the way back (terraform state push).
  const pulled = await run(ws, ['state', 'pull'], { echo: false, raw: true });
  if (pulled.code !== 0) await failWith(ctx, 'detach-vpc', pulled, exportsFile);
  let parsed: { resources?: unknown };
  try {
    parsed = JSON.parse(pulled.rawStdout) as { resources?: unknown };
  } catch {
    throw new Error('terraform state pull did not return a JSON state; nothing was removed');
  }
  if (!Array.isArray(parsed.resources)) throw new Error('terraform state pull returned a state without resources; nothing was removed');
  const backupKey = stateBackupKey(ctx);
  const versionId = await putBytes(stateBucket, backupKey, pulled.rawStdout, 'application/json');
  const backup = { bucket: stateBucket, key: backupKey, ...(versionId ? { versionId } : {}) };
  console.log(`state backed up to s3://${stateBucket}/${backupKey} (restore with terraform state push)`);

  // One call: one state lock, one new state version, all addresses or none.
  const removed = await run(ws, ['state', 'rm', ...approved]);
  if (removed.code !== 0) await failWith(ctx, 'detach-vpc', removed, exportsFile, { STATE_BACKUP_KEY: backupKey });

  const after = await stateList(ctx, ws, 'detach-vpc', exportsFile, { STATE_BACKUP_KEY: backupKey });
  const left = vpcAddresses(after).filter((a) => approved.includes(a));
  if (left.length > 0) throw new Error(`terraform state rm left ${left.length} approved address(es) in the state: ${left.join(', ')}`);

  await putBytes(ctx.bucket, resultKey, JSON.stringify(result('detached', after.length, backup), null, 2), 'application/json');
  console.log(`detached ${approved.length} module.vpc resource(s) from the Terraform state; nothing was destroyed in AWS`);
  await writeExports(exportsFile, { STEP_STATUS: 'succeeded', DETACH_REPORT_KEY: resultKey, DETACH_COUNT: approved.length, STATE_BACKUP_KEY: backupKey });
}

/** The command: TERRAFORM_COMMAND as the buildspec passes it (argv), checked against the known ones. */
export function parseCommand(arg: string | undefined): StepCommand {
  if (!COMMANDS.includes(arg as StepCommand)) {
    throw new Error(`usage: terraform-step.js ${COMMANDS.join('|')} (got ${JSON.stringify(arg)}; set TERRAFORM_COMMAND)`);
  }
  return arg as StepCommand;
}

async function main(argv: string[]): Promise<number> {
  const ctx = contextFromEnv(process.env);
  const exportsFile = process.env.STEP_EXPORTS || path.join(path.dirname(path.resolve(ctx.workDir)), 'step-exports.env');
  try {
    const command = parseCommand(argv[2]);
    await confirmRunHoldsLock(process.env);
    if (command === 'plan') await plan(ctx, exportsFile);
    else if (command === 'apply') await apply(ctx, process.env.PLAN_PREFIX || planPrefix(ctx), exportsFile);
    else if (command === 'list-vpc') await listVpc(ctx, exportsFile);
    else {
      const stateBucket = process.env.STATE_BUCKET;
      if (!stateBucket) throw new Error('environment variable STATE_BUCKET is not set (the Apply project sets it): detach-vpc backs the state up there');
      await detachVpc(ctx, process.env.DETACH_REPORT_KEY || detachListKey(ctx), stateBucket, exportsFile);
    }
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
