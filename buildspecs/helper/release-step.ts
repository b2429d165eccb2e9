/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use" as two cluster actions of the Verify project
 * (CLUSTER_ACTION, bundled into verify-step.js):
 *
 * - `inspect-release`: who owns the Helm release apheris-gateway in namespace apheris? Reads the release secrets'
 *   metadata (never their data: a release secret holds the values), the labels and annotations of the namespace's
 *   Deployments, and the run's Terraform state; decides with lambdas/shared/domain/release-ownership; writes
 *   reports/<gateway>/<runId>/release-inspection.json and exports RELEASE_FINDING, RELEASE_DETAIL,
 *   RELEASE_REPORT_KEY. Exits 0 whatever the finding: the state machine decides.
 * - `uninstall-release`: inspects again (the cluster may have changed while the approval waited), refuses unless
 *   the release is unmanaged, then `helm uninstall apheris-gateway -n apheris --wait`; writes
 *   reports/<gateway>/<runId>/release-uninstall.json and exports RELEASE_UNINSTALLED.
 *
 * Both act on the gateway's own release only (the constants, never a name from the run): the state machine runs them
 * only when the Apply error is about that release (lambdas/shared/domain/remediation.ts, `remediationFor`).
 *
 * The cluster is reached as Verify reaches it (verify-step's `connect`: the kubeconfig, and the EKS token minted
 * in-process and cached for kubectl's credential plugin, so neither kubectl nor helm waits for the AWS CLI), from
 * the run's Terraform outputs. After a failed apply there is no Apply report, and on a first install the Plan's
 * outputs lack what was unknown before the apply (cluster_name): the outputs are merged from the Apply report, then
 * the Plan's outputs, then the root outputs in the Terraform state, which Terraform keeps for a partly failed apply
 * too. The kubectl calls stay separate: the release secrets are asked for by label, so that no other Secret of the
 * namespace is ever fetched, which one combined list could not keep.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { redactText } from '../../lambdas/shared/domain/plan';
import {
  RELEASE_NAME,
  RELEASE_NAMESPACE,
  decideReleaseOwnership,
  helmReleasesInState,
  rootOutputsInState,
  uninstallCommand,
  type ObjectMeta,
  type ReleaseFinding,
  type ReleaseOwnership,
  type TerraformStateFacts,
} from '../../lambdas/shared/domain/release-ownership';
import { ROOT_OUTPUTS } from '../../lambdas/shared/domain/workspace';
import type { CommandResult } from './run-command';
import type { ClusterAccess, VerifyContext } from './verify-step';
import { getBytes, putBytes } from './workspace';

export const CLUSTER_ACTIONS = ['verify', 'inspect-release', 'uninstall-release'] as const;
export type ClusterAction = (typeof CLUSTER_ACTIONS)[number];
export type ReleaseAction = Exclude<ClusterAction, 'verify'>;

/** CLUSTER_ACTION: unset or empty is `verify`, anything unknown is an error (a typo must not verify instead). */
export function clusterActionOf(value: string | undefined): ClusterAction {
  if (value === undefined || value === '') return 'verify';
  if ((CLUSTER_ACTIONS as readonly string[]).includes(value)) return value as ClusterAction;
  throw new Error(`CLUSTER_ACTION=${value} is not one of ${CLUSTER_ACTIONS.join(', ')}`);
}

export interface ReleaseContext extends VerifyContext {
  /** Where RenderWorkspace wrote this run's files (backend.tf.json among them). */
  readonly workspacePrefix: string;
  readonly release: string;
  readonly namespace: string;
  readonly uninstallTimeout: string;
}

export function releaseContextOf(ctx: VerifyContext, env: NodeJS.ProcessEnv): ReleaseContext {
  return {
    ...ctx,
    // RenderWorkspace's prefix for the run (lambdas/render-workspace/render.ts); the state machine may pass it.
    workspacePrefix: env.WORKSPACE_PREFIX || `workspaces/${ctx.gateway}/${ctx.runId}/`,
    release: RELEASE_NAME,
    namespace: RELEASE_NAMESPACE,
    uninstallTimeout: env.HELM_UNINSTALL_TIMEOUT || '5m',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The Terraform state

export interface BackendLocation {
  readonly bucket: string;
  readonly key: string;
  readonly region?: string;
}

/** The s3 backend of a Terraform JSON document (a block may be an object or an array of objects). */
export function s3BackendOf(json: unknown): BackendLocation | undefined {
  const terraform = (json as { terraform?: unknown } | null)?.terraform;
  for (const block of Array.isArray(terraform) ? terraform : [terraform]) {
    const backend = (block as { backend?: unknown } | undefined)?.backend;
    for (const b of Array.isArray(backend) ? backend : [backend]) {
      const raw = (b as { s3?: unknown } | undefined)?.s3;
      const s3 = (Array.isArray(raw) ? raw[0] : raw) as Record<string, unknown> | undefined;
      if (s3 && typeof s3.bucket === 'string' && typeof s3.key === 'string') {
        return { bucket: s3.bucket, key: s3.key, ...(typeof s3.region === 'string' ? { region: s3.region } : {}) };
      }
    }
  }
  return undefined;
}

export interface StateRead {
  readonly facts: TerraformStateFacts;
  /** Non-sensitive root outputs among ROOT_OUTPUTS. */
  readonly outputs: Record<string, unknown>;
}

/**
 * Reads the state object and keeps only the helm_release addresses/names and the root outputs. The state holds
 * secrets (a helm_release's values); the text is dropped here and never printed.
 */
export function stateFacts(location: string, text: string | undefined): StateRead {
  if (text === undefined) return { facts: { location, found: false, helmReleases: [] }, outputs: {} };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`the Terraform state at ${location} is not JSON`);
  }
  return { facts: { location, found: true, helmReleases: helmReleasesInState(doc) }, outputs: rootOutputsInState(doc, ROOT_OUTPUTS) };
}

const isNoSuchKey = (error: unknown) => (error as Error).name === 'NoSuchKey' || (error as Error).name === 'NotFound';

/** The backend from the run's backend.tf.json, then the state object it names (absent: no state yet). */
export async function readTerraformState(ctx: ReleaseContext, artifacts: Artifacts): Promise<StateRead> {
  const backendKey = `${ctx.workspacePrefix}backend.tf.json`;
  const backendText = await artifacts.get(backendKey);
  if (backendText === undefined) throw new Error(`no backend.tf.json for run ${ctx.runId}: s3://${ctx.bucket}/${backendKey} does not exist`);
  const backend = s3BackendOf(JSON.parse(backendText));
  if (!backend) throw new Error(`s3://${ctx.bucket}/${backendKey} declares no s3 backend with a bucket and key`);
  const location = `s3://${backend.bucket}/${backend.key}`;
  // The state bucket may be in another region than the build (the config's backend.region).
  const client = new S3Client({ region: backend.region || ctx.region, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: backend.bucket, Key: backend.key }));
    return stateFacts(location, await out.Body!.transformToString('utf-8'));
  } catch (error) {
    if (isNoSuchKey(error)) return stateFacts(location, undefined);
    throw error;
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The cluster

/** Output documents, most authoritative first; the first that has a value wins, per output. */
export function accessFromOutputs(sources: ReadonlyArray<{ readonly where: string; readonly outputs: Record<string, unknown> }>): ClusterAccess {
  const pick = (name: string) => sources.map((s) => s.outputs[name]).find((v) => typeof v === 'string' && v !== '') as string | undefined;
  const clusterName = pick('cluster_name');
  const endpoint = pick('endpoint');
  if (!clusterName || !endpoint) {
    const missing = [!clusterName && 'cluster_name', !endpoint && 'endpoint'].filter(Boolean).join(' and ');
    throw new Error(`no ${missing} output for the cluster: looked in ${sources.map((s) => s.where).join(', ')}`);
  }
  const ca = pick('certificate_authority_data');
  return { clusterName, endpoint, ...(ca ? { certificateAuthorityData: ca } : {}) };
}

/** Reads and writes objects of the artifacts bucket; the S3 one unless a test gives another. */
export interface Artifacts {
  /** undefined: no such object. */
  get(key: string): Promise<string | undefined>;
  put(key: string, body: string): Promise<void>;
}

export function s3Artifacts(bucket: string): Artifacts {
  return {
    async get(key) {
      try {
        return (await getBytes(bucket, key)).toString('utf-8');
      } catch (error) {
        if (isNoSuchKey(error)) return undefined;
        throw error;
      }
    },
    async put(key, body) {
      await putBytes(bucket, key, body, 'application/json');
    },
  };
}

/** Apply report, then the Plan's outputs, then the Terraform state's root outputs. */
export async function releaseClusterAccess(ctx: ReleaseContext, artifacts: Artifacts, state: StateRead): Promise<ClusterAccess> {
  const sources: Array<{ where: string; outputs: Record<string, unknown> }> = [];
  for (const key of [`reports/${ctx.gateway}/${ctx.runId}/apply.json`, `plans/${ctx.gateway}/${ctx.runId}/outputs.json`]) {
    const text = await artifacts.get(key);
    const doc = text === undefined ? {} : (JSON.parse(text) as { outputs?: Record<string, unknown> });
    sources.push({ where: `s3://${ctx.bucket}/${key}${text === undefined ? ' (absent)' : ''}`, outputs: doc.outputs ?? {} });
  }
  sources.push({ where: `the Terraform state ${state.facts.location}${state.facts.found ? '' : ' (absent)'}`, outputs: state.outputs });
  return accessFromOutputs(sources);
}

type Tool = (args: string[], opts?: { raw?: boolean; echo?: boolean }) => Promise<CommandResult>;

/** Only the metadata of each listed object leaves kubectl: one JSON object per line. */
const METADATA_ONLY = 'jsonpath={range .items[*]}{.metadata}{"\\n"}{end}';

export function parseMetadataLines(kind: string, text: string): ObjectMeta[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const m = JSON.parse(line) as { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
      return {
        kind,
        name: m.name,
        ...(m.namespace ? { namespace: m.namespace } : {}),
        ...(m.labels ? { labels: m.labels } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      };
    });
}

async function listMetadata(kubectl: Tool, kind: string, args: string[]): Promise<ObjectMeta[]> {
  const result = await kubectl([...args, '-o', METADATA_ONLY], { raw: true });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.output.slice(-500)}`);
  try {
    return parseMetadataLines(kind, result.rawStdout);
  } catch (error) {
    throw new Error(`kubectl ${args.join(' ')} printed something else than metadata lines: ${(error as Error).message}`);
  }
}

export interface HelmListEntry {
  readonly name: string;
  readonly namespace: string;
  readonly revision: string;
  readonly updated: string;
  readonly status: string;
  readonly chart: string;
  readonly app_version: string;
}

export interface ReleaseInspection extends ReleaseOwnership {
  /** What `helm list -a` says of the release (chart and app version), when helm could say it. */
  readonly helm: { readonly listed: HelmListEntry | null; readonly error?: string };
}

export async function inspectRelease(ctx: ReleaseContext, kubectl: Tool, helm: Tool, terraform: TerraformStateFacts): Promise<ReleaseInspection> {
  const secrets = await listMetadata(kubectl, 'Secret', ['get', 'secrets', '-n', ctx.namespace, '-l', `owner=helm,name=${ctx.release}`]);
  const objects = await listMetadata(kubectl, 'Deployment', ['get', 'deployments', '-n', ctx.namespace]);
  const ownership = decideReleaseOwnership({ release: ctx.release, namespace: ctx.namespace, secrets, objects, terraform });
  // Informative only (chart, app version); `helm status -o json` would print the values, `helm list` does not.
  const listed = await helm(['list', '-n', ctx.namespace, '-a', '-o', 'json', '--filter', `^${ctx.release}$`], { raw: true });
  let helmInfo: ReleaseInspection['helm'];
  try {
    if (listed.code !== 0) throw new Error(listed.output.slice(-300));
    const entries = JSON.parse(listed.rawStdout) as HelmListEntry[];
    const e = entries.find((x) => x.name === ctx.release);
    helmInfo = {
      listed: e
        ? { name: e.name, namespace: e.namespace, revision: String(e.revision), updated: e.updated, status: e.status, chart: e.chart, app_version: e.app_version }
        : null,
    };
  } catch (error) {
    helmInfo = { listed: null, error: `helm list failed: ${(error as Error).message}` };
  }
  return { ...ownership, helm: helmInfo };
}

// ---------------------------------------------------------------------------------------------------------------
// Reports and exports

export interface ReleaseReport {
  readonly gateway: string;
  readonly runId: string;
  readonly action: ReleaseAction;
  readonly inspectedAt: string;
  readonly cluster: { readonly name: string; readonly endpoint: string };
  readonly finding: ReleaseFinding;
  readonly detail: string;
  readonly evidence: ReleaseOwnership['evidence'];
  readonly helm: ReleaseInspection['helm'];
  readonly uninstall?: {
    readonly performed: boolean;
    readonly command?: string;
    readonly exitCode?: number;
    readonly output?: string;
    readonly refused?: string;
    /** Release secrets still there after the uninstall (names only). */
    readonly remaining?: readonly string[];
  };
}

export const reportKeyOf = (ctx: { gateway: string; runId: string }, action: ReleaseAction) =>
  `reports/${ctx.gateway}/${ctx.runId}/${action === 'inspect-release' ? 'release-inspection' : 'release-uninstall'}.json`;

/** Exported values are kept short; the report has everything. */
const short = (text: string, max = 500) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function inspectionExports(report: ReleaseReport, key: string): Record<string, string> {
  return { STEP_STATUS: 'succeeded', RELEASE_FINDING: report.finding, RELEASE_DETAIL: short(report.detail), RELEASE_REPORT_KEY: key };
}

/** Why a finding forbids the uninstall; undefined when it allows it (only `unmanaged`). */
export function refusalOf(finding: ReleaseFinding): { failureClass: string } | undefined {
  if (finding === 'unmanaged') return undefined;
  // Nothing to uninstall is not "managed elsewhere": a class of its own, so operators are not told to look for an owner.
  return { failureClass: finding === 'absent' ? 'release-absent' : 'release-managed' };
}

export interface ReleaseActionDeps {
  readonly connect: (access: ClusterAccess) => Promise<{ kubectl: Tool; helm: Tool }>;
  /** Default: the S3 artifacts bucket of the context. */
  readonly artifacts?: Artifacts;
  /** Default: readTerraformState (backend.tf.json of the run, then the state object in S3). */
  readonly readState?: (ctx: ReleaseContext, artifacts: Artifacts) => Promise<StateRead>;
  /** Strings that may never reach a report. */
  readonly secrets: readonly string[];
  readonly now?: () => Date;
}

export interface ReleaseActionResult {
  readonly code: number;
  readonly exports: Record<string, string>;
  readonly report: ReleaseReport;
}

export async function runReleaseAction(action: ReleaseAction, ctx: ReleaseContext, deps: ReleaseActionDeps): Promise<ReleaseActionResult> {
  const artifacts = deps.artifacts ?? s3Artifacts(ctx.bucket);
  const state = await (deps.readState ?? readTerraformState)(ctx, artifacts);
  const access = await releaseClusterAccess(ctx, artifacts, state);
  const { kubectl, helm } = await deps.connect(access);
  const inspection = await inspectRelease(ctx, kubectl, helm, state.facts);
  const key = reportKeyOf(ctx, action);
  const base: ReleaseReport = {
    gateway: ctx.gateway,
    runId: ctx.runId,
    action,
    inspectedAt: (deps.now ?? (() => new Date()))().toISOString(),
    cluster: { name: access.clusterName, endpoint: access.endpoint },
    finding: inspection.finding,
    detail: inspection.detail,
    evidence: inspection.evidence,
    helm: inspection.helm,
  };
  const store = (report: ReleaseReport) => artifacts.put(key, redactText(JSON.stringify(report, null, 2), [...deps.secrets]));
  console.log(`release ${ctx.release} in ${ctx.namespace}: ${inspection.finding}: ${inspection.detail}`);

  if (action === 'inspect-release') {
    await store(base);
    return { code: 0, exports: inspectionExports(base, key), report: base };
  }

  const findingExports = { RELEASE_FINDING: inspection.finding, RELEASE_DETAIL: short(inspection.detail), RELEASE_REPORT_KEY: key };
  const refusal = refusalOf(inspection.finding);
  if (refusal) {
    const message = `refused to uninstall ${ctx.release}: the release is ${inspection.finding}: ${inspection.detail}`;
    const report: ReleaseReport = { ...base, uninstall: { performed: false, refused: message } };
    await store(report);
    console.error(message);
    return {
      code: 1,
      exports: { STEP_STATUS: 'failed', FAILURE_CLASS: refusal.failureClass, FAILURE_MESSAGE: short(message), ...findingExports, RELEASE_UNINSTALLED: 'false' },
      report,
    };
  }

  const args = ['uninstall', ctx.release, '-n', ctx.namespace, '--wait', '--timeout', ctx.uninstallTimeout];
  const result = await helm(args);
  const remaining = (await listMetadata(kubectl, 'Secret', ['get', 'secrets', '-n', ctx.namespace, '-l', `owner=helm,name=${ctx.release}`])).map((s) => s.name);
  const uninstalled = result.code === 0 && remaining.length === 0;
  const report: ReleaseReport = {
    ...base,
    uninstall: { performed: true, command: `helm ${args.join(' ')}`, exitCode: result.code, output: result.output.slice(-5_000), remaining },
  };
  await store(report);
  if (!uninstalled) {
    const why = result.code !== 0 ? `helm uninstall exited ${result.code}: ${result.output.slice(-300)}` : `release secrets remain: ${remaining.join(', ')}`;
    return {
      code: 1,
      exports: { STEP_STATUS: 'failed', FAILURE_CLASS: 'release-uninstall-failed', FAILURE_MESSAGE: short(`${uninstallCommand(ctx.release, ctx.namespace)} did not remove the release: ${why}`), ...findingExports, RELEASE_UNINSTALLED: 'false' },
      report,
    };
  }
  console.log(`uninstalled ${ctx.release} from ${ctx.namespace}`);
  return { code: 0, exports: { STEP_STATUS: 'succeeded', ...findingExports, RELEASE_UNINSTALLED: 'true' }, report };
}
