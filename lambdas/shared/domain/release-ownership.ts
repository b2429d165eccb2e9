/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use" as a decision: a Helm release of the gateway's name is
 * on the cluster but Terraform's helm_release could not install it. The HOWTO: "Please make sure that the helm
 * release is not managed by another system first", then uninstall it and apply again. This module decides, from
 * what an inspection found, who owns the release; a pure function over metadata (never secret data), so every
 * rule has small tests.
 *
 * Evidence it reads:
 * - Helm 3's release secrets `sh.helm.release.v1.<release>.v<N>` (labels owner=helm, name, status, version).
 * - Labels and annotations of the objects in the namespace that belong to the release (Helm's
 *   meta.helm.sh/release-name annotation or the app.kubernetes.io/instance label), and of the release secrets.
 *   Flux's helm-controller labels everything it renders with helm.toolkit.fluxcd.io/name and /namespace;
 *   kustomize-controller with kustomize.toolkit.fluxcd.io/name and /namespace. Argo CD tracks its resources with
 *   the annotation argocd.argoproj.io/tracking-id (its default since 3.0), the label app.kubernetes.io/instance
 *   (the default before; Helm charts set that label to the release name too, so on its own it proves nothing and
 *   counts only next to another argocd.argoproj.io/ key), or a custom label, commonly argocd.argoproj.io/instance.
 * - Whether the Terraform state holds a helm_release whose name is the release.
 */

export const RELEASE_NAME = 'apheris-gateway';
export const RELEASE_NAMESPACE = 'apheris';

export type ReleaseFinding = 'absent' | 'unmanaged' | 'managed-by-flux' | 'managed-by-argocd' | 'managed-by-terraform';
export const RELEASE_FINDINGS: readonly ReleaseFinding[] = ['absent', 'unmanaged', 'managed-by-flux', 'managed-by-argocd', 'managed-by-terraform'];

/** The HOWTO's remedy, word for word where it has words. */
export const uninstallCommand = (release: string, namespace: string) => `helm uninstall ${release} -n ${namespace}`;

/** What kubectl shows of an object's metadata; nothing else of it is needed, or kept. */
export interface ObjectMeta {
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface StateHelmRelease {
  /** The resource instance's address, e.g. module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]. */
  readonly address: string;
  readonly name: string;
  readonly namespace?: string;
  readonly tainted?: boolean;
}

export interface TerraformStateFacts {
  /** Where the state was looked for, e.g. s3://bucket/gateways/gw/terraform.tfstate. */
  readonly location: string;
  /** false: no state object there yet. */
  readonly found: boolean;
  /** Every helm_release instance in the state (whatever its name). */
  readonly helmReleases: readonly StateHelmRelease[];
}

export interface ReleaseFacts {
  readonly release: string;
  readonly namespace: string;
  /** Secrets found by the label selector owner=helm,name=<release>; filtered again here. */
  readonly secrets: readonly ObjectMeta[];
  /** Objects in the namespace (e.g. every Deployment); those of the release are picked here. */
  readonly objects: readonly ObjectMeta[];
  readonly terraform: TerraformStateFacts;
}

export type ManagingSystem = 'flux' | 'argocd';

export interface Marker {
  readonly system: ManagingSystem;
  /** `Deployment/apheris-gateway-agent` */
  readonly object: string;
  readonly source: 'label' | 'annotation';
  readonly key: string;
  readonly value: string;
}

export interface ReleaseRevision {
  readonly secret: string;
  readonly revision: number;
  readonly status: string;
}

export interface ReleaseEvidence {
  readonly release: string;
  readonly namespace: string;
  /** Newest first. */
  readonly revisions: readonly ReleaseRevision[];
  /** The release's objects, with only their ownership labels and annotations. */
  readonly objects: readonly ObjectMeta[];
  readonly markers: readonly Marker[];
  readonly terraform: {
    readonly location: string;
    readonly found: boolean;
    /** The helm_release instances of this release (name and namespace match). */
    readonly releases: readonly StateHelmRelease[];
  };
}

export interface ReleaseOwnership {
  readonly finding: ReleaseFinding;
  /** One sentence: the evidence (object, label) and the HOWTO's advice. */
  readonly detail: string;
  readonly evidence: ReleaseEvidence;
}

const RELEASE_SECRET = /^sh\.helm\.release\.v1\.(.+)\.v(\d+)$/;

/** Helm 3's storage secrets of this release, newest revision first. */
export function releaseRevisions(secrets: readonly ObjectMeta[], release: string, namespace: string): ReleaseRevision[] {
  return secrets
    .filter((s) => (s.namespace ?? namespace) === namespace && s.labels?.owner === 'helm' && s.labels?.name === release)
    .flatMap((s) => {
      const m = RELEASE_SECRET.exec(s.name);
      if (!m || m[1] !== release) return [];
      const fromLabel = Number(s.labels?.version);
      const revision = Number.isInteger(fromLabel) && fromLabel > 0 ? fromLabel : Number(m[2]);
      return [{ secret: s.name, revision, status: s.labels?.status ?? 'unknown' }];
    })
    .sort((a, b) => b.revision - a.revision);
}

/** Helm's own marks (meta.helm.sh/release-name, app.kubernetes.io/instance) tie an object to the release. */
export function belongsToRelease(o: ObjectMeta, release: string, namespace: string): boolean {
  const a = o.annotations ?? {};
  if (a['meta.helm.sh/release-name'] === release && (a['meta.helm.sh/release-namespace'] ?? namespace) === namespace) return true;
  return o.labels?.['app.kubernetes.io/instance'] === release;
}

const FLUX_LABELS = ['helm.toolkit.fluxcd.io/name', 'helm.toolkit.fluxcd.io/namespace', 'kustomize.toolkit.fluxcd.io/name', 'kustomize.toolkit.fluxcd.io/namespace'];
const ARGOCD_PREFIX = 'argocd.argoproj.io/';
const ARGOCD_LABEL = 'argocd.argoproj.io/instance';
const ARGOCD_ANNOTATION = 'argocd.argoproj.io/tracking-id';
const INSTANCE_LABEL = 'app.kubernetes.io/instance';

/** The labels and annotations that say who manages an object; anything else (e.g. last-applied-configuration) is dropped. */
export function isOwnershipKey(key: string): boolean {
  return (
    key.startsWith('meta.helm.sh/') ||
    key.startsWith('helm.toolkit.fluxcd.io/') ||
    key.startsWith('kustomize.toolkit.fluxcd.io/') ||
    key.startsWith(ARGOCD_PREFIX) ||
    key === INSTANCE_LABEL ||
    key === 'app.kubernetes.io/managed-by' ||
    key === 'helm.sh/chart'
  );
}

function ownershipOnly(map: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (!map) return undefined;
  const kept = Object.entries(map).filter(([k]) => isOwnershipKey(k));
  return kept.length ? Object.fromEntries(kept) : undefined;
}

/** Flux's and Argo CD's marks on one object. */
export function markersOf(o: ObjectMeta): Marker[] {
  const object = `${o.kind}/${o.name}`;
  const labels = o.labels ?? {};
  const annotations = o.annotations ?? {};
  const out: Marker[] = [];
  for (const key of FLUX_LABELS) {
    if (labels[key] !== undefined) out.push({ system: 'flux', object, source: 'label', key, value: labels[key] });
  }
  if (labels[ARGOCD_LABEL] !== undefined) out.push({ system: 'argocd', object, source: 'label', key: ARGOCD_LABEL, value: labels[ARGOCD_LABEL] });
  if (annotations[ARGOCD_ANNOTATION] !== undefined) {
    out.push({ system: 'argocd', object, source: 'annotation', key: ARGOCD_ANNOTATION, value: annotations[ARGOCD_ANNOTATION] });
  }
  const otherArgo = [...Object.keys(labels), ...Object.keys(annotations)].some(
    (k) => k.startsWith(ARGOCD_PREFIX) && k !== ARGOCD_LABEL && k !== ARGOCD_ANNOTATION,
  );
  if (labels[INSTANCE_LABEL] !== undefined && otherArgo) {
    out.push({ system: 'argocd', object, source: 'label', key: INSTANCE_LABEL, value: labels[INSTANCE_LABEL] });
  }
  return out;
}

/** The helm_release instances in the state that are this release. */
export function stateReleasesOf(terraform: TerraformStateFacts, release: string, namespace: string): StateHelmRelease[] {
  return terraform.helmReleases.filter((r) => r.name === release && (r.namespace ?? 'default') === namespace);
}

const ADVICE_UNINSTALL = (release: string, namespace: string) =>
  `as the HOWTO's FAQ advises, uninstall it (${uninstallCommand(release, namespace)}) and run terraform apply again`;

function describeMarker(m: Marker): string {
  return `${m.object} carries the ${m.source} ${m.key}=${m.value}`;
}

function fluxOwner(markers: readonly Marker[]): string {
  const value = (key: string) => markers.find((m) => m.key === key)?.value;
  const helmName = value('helm.toolkit.fluxcd.io/name');
  if (helmName !== undefined) {
    const ns = value('helm.toolkit.fluxcd.io/namespace');
    return `the Flux HelmRelease ${ns ? `${ns}/` : ''}${helmName}`;
  }
  const kName = value('kustomize.toolkit.fluxcd.io/name');
  const kNs = value('kustomize.toolkit.fluxcd.io/namespace');
  return kName !== undefined ? `the Flux Kustomization ${kNs ? `${kNs}/` : ''}${kName}` : 'Flux';
}

function argoOwner(markers: readonly Marker[]): string {
  const tracking = markers.find((m) => m.key === ARGOCD_ANNOTATION)?.value;
  // The tracking id is <application>:<group>/<kind>:<namespace>/<name>.
  const app = tracking !== undefined ? tracking.split(':')[0] : (markers.find((m) => m.key === ARGOCD_LABEL) ?? markers[0])?.value;
  return app ? `the Argo CD Application ${app}` : 'Argo CD';
}

export function decideReleaseOwnership(facts: ReleaseFacts): ReleaseOwnership {
  const { release, namespace } = facts;
  const revisions = releaseRevisions(facts.secrets, release, namespace);
  const releaseSecrets = facts.secrets.filter((s) => revisions.some((r) => r.secret === s.name));
  const objects = facts.objects.filter((o) => (o.namespace ?? namespace) === namespace && belongsToRelease(o, release, namespace));
  const markers = [...releaseSecrets, ...objects].flatMap(markersOf);
  const stateReleases = stateReleasesOf(facts.terraform, release, namespace);
  const evidence: ReleaseEvidence = {
    release,
    namespace,
    revisions,
    objects: objects.map((o) => ({
      kind: o.kind,
      name: o.name,
      ...(o.namespace ? { namespace: o.namespace } : {}),
      ...(ownershipOnly(o.labels) ? { labels: ownershipOnly(o.labels) } : {}),
      ...(ownershipOnly(o.annotations) ? { annotations: ownershipOnly(o.annotations) } : {}),
    })),
    markers,
    terraform: { location: facts.terraform.location, found: facts.terraform.found, releases: stateReleases },
  };
  const decided = (finding: ReleaseFinding, detail: string): ReleaseOwnership => ({ finding, detail, evidence });

  const latest = revisions[0];
  if (!latest) {
    const leftovers = objects.length
      ? `; ${objects.map((o) => `${o.kind}/${o.name}`).join(', ')} still ${objects.length === 1 ? 'carries' : 'carry'} its labels, but Helm keeps no release for ${objects.length === 1 ? 'it' : 'them'}`
      : '';
    return decided(
      'absent',
      `No Helm release ${release} in namespace ${namespace} (no secret sh.helm.release.v1.${release}.v*${leftovers}), so there is nothing to uninstall: run the deployment again.`,
    );
  }
  const found = `Helm release ${release} (revision ${latest.revision}, ${latest.status}, secret ${latest.secret})`;

  const flux = markers.filter((m) => m.system === 'flux');
  if (flux.length) {
    return decided(
      'managed-by-flux',
      `${found} is managed by ${fluxOwner(flux)}: ${describeMarker(flux[0])}; the HOWTO's FAQ says to make sure no other system manages the release first, so do not uninstall it here: suspend or remove it in Flux, then run the deployment again.`,
    );
  }
  const argo = markers.filter((m) => m.system === 'argocd');
  if (argo.length) {
    return decided(
      'managed-by-argocd',
      `${found} is managed by ${argoOwner(argo)}: ${describeMarker(argo[0])}; the HOWTO's FAQ says to make sure no other system manages the release first, so do not uninstall it here: remove it from the Argo CD Application, then run the deployment again.`,
    );
  }
  if (stateReleases.length) {
    return decided(
      'managed-by-terraform',
      `${found} is already in the Terraform state at ${facts.terraform.location} as ${stateReleases[0].address}${stateReleases[0].tainted ? ' (tainted)' : ''}, which is not the HOWTO's case of a release missing from the state: do not uninstall it; look for a second helm_release of the same name or a moved resource address instead.`,
    );
  }
  const where = objects.length ? `its objects (${objects.map((o) => `${o.kind}/${o.name}`).join(', ')}) carry no Flux or Argo CD label or annotation` : 'no object of it carries a Flux or Argo CD label or annotation';
  const state = facts.terraform.found ? `the Terraform state at ${facts.terraform.location} does not hold it` : `there is no Terraform state at ${facts.terraform.location} yet`;
  return decided('unmanaged', `${found} is on the cluster but ${state} and ${where}; ${ADVICE_UNINSTALL(release, namespace)}.`);
}

// ---------------------------------------------------------------------------------------------------------------
// The Terraform state (format version 4), read for helm_release instances and root outputs only

interface StateResource {
  readonly module?: string;
  readonly mode?: string;
  readonly type?: string;
  readonly name?: string;
  readonly instances?: ReadonlyArray<{ readonly index_key?: string | number; readonly status?: string; readonly attributes?: Record<string, unknown> }>;
}

function indexSuffix(key: string | number | undefined): string {
  if (key === undefined) return '';
  return typeof key === 'number' ? `[${key}]` : `[${JSON.stringify(key)}]`;
}

/** Every helm_release instance in a Terraform state document: address, name, namespace; nothing else is kept. */
export function helmReleasesInState(state: unknown): StateHelmRelease[] {
  const resources = (state as { resources?: unknown } | null)?.resources;
  if (!Array.isArray(resources)) return [];
  const out: StateHelmRelease[] = [];
  for (const r of resources as StateResource[]) {
    if (r?.type !== 'helm_release' || (r.mode ?? 'managed') !== 'managed') continue;
    for (const instance of r.instances ?? []) {
      const name = instance.attributes?.name;
      if (typeof name !== 'string') continue;
      const namespace = instance.attributes?.namespace;
      out.push({
        address: `${r.module ? `${r.module}.` : ''}helm_release.${r.name}${indexSuffix(instance.index_key)}`,
        name,
        ...(typeof namespace === 'string' ? { namespace } : {}),
        ...(instance.status === 'tainted' ? { tainted: true } : {}),
      });
    }
  }
  return out;
}

/** The state's non-sensitive root outputs among `names` (the state keeps outputs of a partly failed apply too). */
export function rootOutputsInState(state: unknown, names: readonly string[]): Record<string, unknown> {
  const outputs = (state as { outputs?: unknown } | null)?.outputs;
  if (!outputs || typeof outputs !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const o = (outputs as Record<string, { value?: unknown; sensitive?: boolean }>)[name];
    if (o && o.sensitive !== true && o.value !== undefined) out[name] = o.value;
  }
  return out;
}
