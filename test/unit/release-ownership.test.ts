import {
  RELEASE_FINDINGS,
  belongsToRelease,
  decideReleaseOwnership,
  helmReleasesInState,
  isOwnershipKey,
  markersOf,
  releaseRevisions,
  rootOutputsInState,
  stateReleasesOf,
  type ObjectMeta,
  type ReleaseFacts,
  type TerraformStateFacts,
} from '../../lambdas/shared/domain/release-ownership';

const STATE = 's3://state-bucket/gateways/gw/terraform.tfstate';
const noState: TerraformStateFacts = { location: STATE, found: false, helmReleases: [] };
const emptyState: TerraformStateFacts = { location: STATE, found: true, helmReleases: [] };

function releaseSecret(revision: number, status = 'deployed', extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return {
    kind: 'Secret',
    name: `sh.helm.release.v1.apheris-gateway.v${revision}`,
    namespace: 'apheris',
    labels: { owner: 'helm', name: 'apheris-gateway', status, version: String(revision), modifiedAt: '1735689600' },
    ...extra,
  };
}

function agent(labels: Record<string, string> = {}, annotations: Record<string, string> = {}): ObjectMeta {
  return {
    kind: 'Deployment',
    name: 'apheris-gateway-agent',
    namespace: 'apheris',
    labels: { 'apheris-component': 'agent', 'app.kubernetes.io/managed-by': 'Helm', ...labels },
    annotations: { 'meta.helm.sh/release-name': 'apheris-gateway', 'meta.helm.sh/release-namespace': 'apheris', ...annotations },
  };
}

function facts(overrides: Partial<ReleaseFacts> = {}): ReleaseFacts {
  return { release: 'apheris-gateway', namespace: 'apheris', secrets: [releaseSecret(1)], objects: [agent()], terraform: emptyState, ...overrides };
}

const decide = (overrides: Partial<ReleaseFacts> = {}) => decideReleaseOwnership(facts(overrides));

describe('releaseRevisions', () => {
  test('newest revision first, with its status', () => {
    expect(releaseRevisions([releaseSecret(1, 'superseded'), releaseSecret(3, 'deployed'), releaseSecret(2, 'superseded')], 'apheris-gateway', 'apheris')).toEqual([
      { secret: 'sh.helm.release.v1.apheris-gateway.v3', revision: 3, status: 'deployed' },
      { secret: 'sh.helm.release.v1.apheris-gateway.v2', revision: 2, status: 'superseded' },
      { secret: 'sh.helm.release.v1.apheris-gateway.v1', revision: 1, status: 'superseded' },
    ]);
  });

  test('revision 10 sorts after revision 9 (numbers, not text)', () => {
    expect(releaseRevisions([releaseSecret(9), releaseSecret(10)], 'apheris-gateway', 'apheris').map((r) => r.revision)).toEqual([10, 9]);
  });

  test('secrets of another owner, another release or another namespace are not this release', () => {
    const others: ObjectMeta[] = [
      { ...releaseSecret(1), labels: { ...releaseSecret(1).labels, owner: 'someone' } },
      { ...releaseSecret(1), labels: { ...releaseSecret(1).labels, name: 'apheris-gateway-dal' } },
      { ...releaseSecret(1), namespace: 'default' },
      { kind: 'Secret', name: 'sh.helm.release.v1.apheris-gateway-dal.v1', namespace: 'apheris', labels: { owner: 'helm', name: 'apheris-gateway' } },
      { kind: 'Secret', name: 'not-a-release', namespace: 'apheris', labels: { owner: 'helm', name: 'apheris-gateway' } },
    ];
    expect(releaseRevisions(others, 'apheris-gateway', 'apheris')).toEqual([]);
  });

  test('without a version label the revision comes from the secret name; without a status label it is unknown', () => {
    const bare: ObjectMeta = { kind: 'Secret', name: 'sh.helm.release.v1.apheris-gateway.v4', labels: { owner: 'helm', name: 'apheris-gateway' } };
    expect(releaseRevisions([bare], 'apheris-gateway', 'apheris')).toEqual([{ secret: bare.name, revision: 4, status: 'unknown' }]);
  });
});

describe('belongsToRelease', () => {
  test("Helm's release-name annotation ties an object to the release", () => {
    expect(belongsToRelease(agent(), 'apheris-gateway', 'apheris')).toBe(true);
  });

  test('the release-name annotation of a release in another namespace does not', () => {
    expect(belongsToRelease(agent({}, { 'meta.helm.sh/release-namespace': 'other' }), 'apheris-gateway', 'apheris')).toBe(false);
  });

  test('the app.kubernetes.io/instance label does', () => {
    expect(belongsToRelease({ kind: 'Deployment', name: 'x', labels: { 'app.kubernetes.io/instance': 'apheris-gateway' } }, 'apheris-gateway', 'apheris')).toBe(true);
  });

  test('an object of another release does not', () => {
    expect(belongsToRelease({ kind: 'Deployment', name: 'x', annotations: { 'meta.helm.sh/release-name': 'monitoring' } }, 'apheris-gateway', 'apheris')).toBe(false);
    expect(belongsToRelease({ kind: 'Deployment', name: 'x' }, 'apheris-gateway', 'apheris')).toBe(false);
  });
});

describe('markersOf', () => {
  test("Flux helm-controller's labels", () => {
    const d = agent({ 'helm.toolkit.fluxcd.io/name': 'gateway', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' });
    expect(markersOf(d)).toEqual([
      { system: 'flux', object: 'Deployment/apheris-gateway-agent', source: 'label', key: 'helm.toolkit.fluxcd.io/name', value: 'gateway' },
      { system: 'flux', object: 'Deployment/apheris-gateway-agent', source: 'label', key: 'helm.toolkit.fluxcd.io/namespace', value: 'flux-system' },
    ]);
  });

  test("Flux kustomize-controller's label", () => {
    expect(markersOf(agent({ 'kustomize.toolkit.fluxcd.io/name': 'apps' })).map((m) => [m.system, m.key])).toEqual([['flux', 'kustomize.toolkit.fluxcd.io/name']]);
  });

  test("Argo CD's tracking-id annotation", () => {
    const d = agent({}, { 'argocd.argoproj.io/tracking-id': 'gw:apps/Deployment:apheris/apheris-gateway-agent' });
    expect(markersOf(d)).toEqual([
      { system: 'argocd', object: 'Deployment/apheris-gateway-agent', source: 'annotation', key: 'argocd.argoproj.io/tracking-id', value: 'gw:apps/Deployment:apheris/apheris-gateway-agent' },
    ]);
  });

  test("Argo CD's custom instance label argocd.argoproj.io/instance", () => {
    expect(markersOf(agent({ 'argocd.argoproj.io/instance': 'gw' })).map((m) => [m.system, m.source, m.key])).toEqual([['argocd', 'label', 'argocd.argoproj.io/instance']]);
  });

  test('app.kubernetes.io/instance alone is what every Helm chart sets: no marker', () => {
    expect(markersOf(agent({ 'app.kubernetes.io/instance': 'apheris-gateway' }))).toEqual([]);
  });

  test('app.kubernetes.io/instance next to another argocd.argoproj.io/ key is Argo CD label tracking', () => {
    const d = agent({ 'app.kubernetes.io/instance': 'gw-app' }, { 'argocd.argoproj.io/sync-wave': '1' });
    expect(markersOf(d)).toEqual([{ system: 'argocd', object: 'Deployment/apheris-gateway-agent', source: 'label', key: 'app.kubernetes.io/instance', value: 'gw-app' }]);
  });

  test('an argocd.argoproj.io/ annotation without the instance label is no marker on its own', () => {
    expect(markersOf(agent({}, { 'argocd.argoproj.io/sync-wave': '1' }))).toEqual([]);
  });

  test("Helm's own labels and annotations are no marker", () => {
    expect(markersOf(agent({ 'helm.sh/chart': 'gateway-agent-0.16.20' }))).toEqual([]);
  });
});

describe('isOwnershipKey', () => {
  test.each([
    ['meta.helm.sh/release-name', true],
    ['helm.toolkit.fluxcd.io/name', true],
    ['kustomize.toolkit.fluxcd.io/namespace', true],
    ['argocd.argoproj.io/tracking-id', true],
    ['app.kubernetes.io/instance', true],
    ['app.kubernetes.io/managed-by', true],
    ['helm.sh/chart', true],
    ['kubectl.kubernetes.io/last-applied-configuration', false],
    ['deployment.kubernetes.io/revision', false],
    ['apheris-component', false],
  ])('%s: %s', (key, expected) => {
    expect(isOwnershipKey(key)).toBe(expected);
  });
});

describe('decideReleaseOwnership', () => {
  test('every finding is one of the five', () => {
    expect(RELEASE_FINDINGS).toEqual(['absent', 'unmanaged', 'managed-by-flux', 'managed-by-argocd', 'managed-by-terraform']);
  });

  test('no release secret: absent, nothing to uninstall', () => {
    const o = decide({ secrets: [], objects: [] });
    expect(o.finding).toBe('absent');
    expect(o.detail).toBe('No Helm release apheris-gateway in namespace apheris (no secret sh.helm.release.v1.apheris-gateway.v*), so there is nothing to uninstall: run the deployment again.');
  });

  test('absent, but objects still carry its labels: named in the detail', () => {
    const o = decide({ secrets: [] });
    expect(o.finding).toBe('absent');
    expect(o.detail).toBe(
      'No Helm release apheris-gateway in namespace apheris (no secret sh.helm.release.v1.apheris-gateway.v*; Deployment/apheris-gateway-agent still carries its labels, ' +
        'but Helm keeps no release for it), so there is nothing to uninstall: run the deployment again.',
    );
  });

  test('absent wins over Flux labels left on objects: Helm has no release to uninstall', () => {
    expect(decide({ secrets: [], objects: [agent({ 'helm.toolkit.fluxcd.io/name': 'gw' })] }).finding).toBe('absent');
  });

  test('a release secret, no marker, not in the state: unmanaged, with the seed\'s advice', () => {
    const o = decide();
    expect(o.finding).toBe('unmanaged');
    expect(o.detail).toBe(
      'Helm release apheris-gateway (revision 1, deployed, secret sh.helm.release.v1.apheris-gateway.v1) is on the cluster but the Terraform state at ' +
        `${STATE} does not hold it and its objects (Deployment/apheris-gateway-agent) carry no Flux or Argo CD label or annotation; ` +
        "as the HOWTO's FAQ advises, uninstall it (helm uninstall apheris-gateway -n apheris) and run terraform apply again.",
    );
  });

  test('unmanaged without any object of the release and without a state yet', () => {
    const o = decide({ objects: [], terraform: noState });
    expect(o.finding).toBe('unmanaged');
    expect(o.detail).toContain(`there is no Terraform state at ${STATE} yet`);
    expect(o.detail).toContain('no object of it carries a Flux or Argo CD label or annotation');
  });

  test('the detail names the newest revision and its status', () => {
    expect(decide({ secrets: [releaseSecret(1, 'superseded'), releaseSecret(2, 'failed')] }).detail).toContain('(revision 2, failed, secret sh.helm.release.v1.apheris-gateway.v2)');
  });

  test('Flux labels on the agent: managed-by-flux, naming the HelmRelease and the label, and not to uninstall', () => {
    const o = decide({ objects: [agent({ 'helm.toolkit.fluxcd.io/name': 'apheris-gateway', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' })] });
    expect(o.finding).toBe('managed-by-flux');
    expect(o.detail).toContain('is managed by the Flux HelmRelease flux-system/apheris-gateway');
    expect(o.detail).toContain('Deployment/apheris-gateway-agent carries the label helm.toolkit.fluxcd.io/name=apheris-gateway');
    expect(o.detail).toContain('do not uninstall it here');
    expect(o.evidence.markers).toHaveLength(2);
  });

  test('a Flux Kustomization: managed-by-flux, naming the Kustomization', () => {
    const o = decide({ objects: [agent({ 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' })] });
    expect(o.finding).toBe('managed-by-flux');
    expect(o.detail).toContain('the Flux Kustomization flux-system/apps');
  });

  test('Flux labels on the release secret itself count too', () => {
    const secret = releaseSecret(1, 'deployed', { labels: { ...releaseSecret(1).labels, 'helm.toolkit.fluxcd.io/name': 'gw' } });
    const o = decide({ secrets: [secret], objects: [] });
    expect(o.finding).toBe('managed-by-flux');
    expect(o.detail).toContain('Secret/sh.helm.release.v1.apheris-gateway.v1 carries the label helm.toolkit.fluxcd.io/name=gw');
  });

  test("Argo CD's tracking annotation: managed-by-argocd, naming the Application from the tracking id", () => {
    const o = decide({ objects: [agent({}, { 'argocd.argoproj.io/tracking-id': 'gateway-prod:apps/Deployment:apheris/apheris-gateway-agent' })] });
    expect(o.finding).toBe('managed-by-argocd');
    expect(o.detail).toContain('is managed by the Argo CD Application gateway-prod');
    expect(o.detail).toContain('carries the annotation argocd.argoproj.io/tracking-id=gateway-prod:apps/Deployment:apheris/apheris-gateway-agent');
  });

  test("Argo CD's instance label: managed-by-argocd, naming the Application from the label", () => {
    const o = decide({ objects: [agent({ 'argocd.argoproj.io/instance': 'gw-app' })] });
    expect(o.finding).toBe('managed-by-argocd');
    expect(o.detail).toContain('the Argo CD Application gw-app');
  });

  test('only the chart\'s app.kubernetes.io/instance label: still unmanaged', () => {
    expect(decide({ objects: [agent({ 'app.kubernetes.io/instance': 'apheris-gateway' })] }).finding).toBe('unmanaged');
  });

  test('markers on objects of other releases are not evidence', () => {
    const other: ObjectMeta = { kind: 'Deployment', name: 'podinfo', namespace: 'apheris', labels: { 'helm.toolkit.fluxcd.io/name': 'podinfo' }, annotations: { 'meta.helm.sh/release-name': 'podinfo' } };
    const o = decide({ objects: [agent(), other] });
    expect(o.finding).toBe('unmanaged');
    expect(o.evidence.objects.map((x) => x.name)).toEqual(['apheris-gateway-agent']);
  });

  test('objects in other namespaces are not evidence', () => {
    const elsewhere = { ...agent({ 'helm.toolkit.fluxcd.io/name': 'x' }), namespace: 'other' };
    expect(decide({ objects: [elsewhere] }).finding).toBe('unmanaged');
  });

  test('the Terraform state holds a helm_release of that name: managed-by-terraform, naming its address', () => {
    const terraform: TerraformStateFacts = {
      location: STATE,
      found: true,
      helmReleases: [{ address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]', name: 'apheris-gateway', namespace: 'apheris' }],
    };
    const o = decide({ terraform });
    expect(o.finding).toBe('managed-by-terraform');
    expect(o.detail).toContain(`is already in the Terraform state at ${STATE} as module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]`);
    expect(o.detail).toContain('do not uninstall it');
    expect(o.evidence.terraform.releases).toHaveLength(1);
  });

  test('a tainted helm_release is still Terraform\'s, and the detail says tainted', () => {
    const terraform: TerraformStateFacts = { location: STATE, found: true, helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris', tainted: true }] };
    expect(decide({ terraform }).detail).toContain('as helm_release.g (tainted)');
  });

  test('helm_releases of other names or namespaces in the state do not count', () => {
    const terraform: TerraformStateFacts = {
      location: STATE,
      found: true,
      helmReleases: [
        { address: 'helm_release.a', name: 'karpenter', namespace: 'apheris' },
        { address: 'helm_release.b', name: 'apheris-gateway', namespace: 'other' },
        { address: 'helm_release.c', name: 'apheris-gateway' },
      ],
    };
    expect(decide({ terraform }).finding).toBe('unmanaged');
  });

  test('Flux wins over Argo CD and Terraform; every marker stays in the evidence', () => {
    const terraform: TerraformStateFacts = { location: STATE, found: true, helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] };
    const o = decide({ terraform, objects: [agent({ 'helm.toolkit.fluxcd.io/name': 'gw', 'argocd.argoproj.io/instance': 'gw' })] });
    expect(o.finding).toBe('managed-by-flux');
    expect(o.evidence.markers.map((m) => m.system)).toEqual(['flux', 'argocd']);
    expect(o.evidence.terraform.releases).toHaveLength(1);
  });

  test('Argo CD wins over Terraform', () => {
    const terraform: TerraformStateFacts = { location: STATE, found: true, helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] };
    expect(decide({ terraform, objects: [agent({}, { 'argocd.argoproj.io/tracking-id': 'a:apps/Deployment:apheris/x' })] }).finding).toBe('managed-by-argocd');
  });

  test('the evidence keeps only ownership labels and annotations (never e.g. last-applied-configuration)', () => {
    const d = agent({ 'app.kubernetes.io/instance': 'apheris-gateway' }, { 'kubectl.kubernetes.io/last-applied-configuration': '{"env":[{"value":"s3cr3t"}]}' });
    const o = decide({ objects: [d] });
    expect(o.evidence.objects).toEqual([
      {
        kind: 'Deployment',
        name: 'apheris-gateway-agent',
        namespace: 'apheris',
        labels: { 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/instance': 'apheris-gateway' },
        annotations: { 'meta.helm.sh/release-name': 'apheris-gateway', 'meta.helm.sh/release-namespace': 'apheris' },
      },
    ]);
    expect(JSON.stringify(o)).not.toContain('s3cr3t');
  });

  test('the evidence lists the revisions and where the state was looked for', () => {
    const o = decide({ secrets: [releaseSecret(1, 'superseded'), releaseSecret(2)], terraform: noState });
    expect(o.evidence).toMatchObject({
      release: 'apheris-gateway',
      namespace: 'apheris',
      revisions: [{ revision: 2, status: 'deployed' }, { revision: 1, status: 'superseded' }],
      terraform: { location: STATE, found: false, releases: [] },
    });
  });

  test('every detail is one sentence', () => {
    const variants: Array<Partial<ReleaseFacts>> = [
      { secrets: [] },
      {},
      { objects: [agent({ 'helm.toolkit.fluxcd.io/name': 'gw' })] },
      { objects: [agent({ 'argocd.argoproj.io/instance': 'gw' })] },
      { terraform: { location: STATE, found: true, helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] } },
    ];
    for (const v of variants) {
      const { detail } = decide(v);
      expect(detail).toMatch(/\.$/);
      expect(detail.slice(0, -1)).not.toMatch(/\.\s+[A-Z]/);
    }
  });
});

describe('the Terraform state', () => {
  const state = {
    version: 4,
    outputs: {
      cluster_name: { value: 'gw', type: 'string' },
      endpoint: { value: 'https://x.eks.amazonaws.com', type: 'string' },
      certificate_authority_data: { value: 'PEM', type: 'string', sensitive: true },
      dal_role_arn: { value: 'arn:aws:iam::123456789012:role/gw-dal', type: 'string' },
    },
    resources: [
      { mode: 'managed', type: 'terraform_data', name: 'cluster', instances: [{ attributes: { input: 'gw' } }] },
      {
        module: 'module.gateway.module.gateway_agent[0]',
        mode: 'managed',
        type: 'helm_release',
        name: 'gateway_agent',
        instances: [{ index_key: 0, attributes: { name: 'apheris-gateway', namespace: 'apheris', values: ['secret values'] } }],
      },
      { mode: 'managed', type: 'helm_release', name: 'by_key', instances: [{ index_key: 'a', status: 'tainted', attributes: { name: 'other' } }] },
      { mode: 'data', type: 'helm_release', name: 'not_managed', instances: [{ attributes: { name: 'apheris-gateway' } }] },
    ],
  };

  test('helm_release instances: address, name, namespace, tainted; nothing else (no values)', () => {
    const releases = helmReleasesInState(state);
    expect(releases).toEqual([
      { address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]', name: 'apheris-gateway', namespace: 'apheris' },
      { address: 'helm_release.by_key["a"]', name: 'other', tainted: true },
    ]);
    expect(JSON.stringify(releases)).not.toContain('secret values');
    expect(stateReleasesOf({ location: STATE, found: true, helmReleases: releases }, 'apheris-gateway', 'apheris')).toHaveLength(1);
  });

  test('no resources, or not a state at all: none', () => {
    expect(helmReleasesInState({ version: 4 })).toEqual([]);
    expect(helmReleasesInState(null)).toEqual([]);
    expect(helmReleasesInState('text')).toEqual([]);
  });

  test('root outputs: only the asked-for, non-sensitive ones', () => {
    expect(rootOutputsInState(state, ['cluster_name', 'endpoint', 'certificate_authority_data'])).toEqual({ cluster_name: 'gw', endpoint: 'https://x.eks.amazonaws.com' });
    expect(rootOutputsInState({}, ['cluster_name'])).toEqual({});
  });
});
