import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { stringify as toYaml } from 'yaml';

/**
 * An in-process stand-in for the Kubernetes API server, good enough for the real `kubectl` (v1.32) to run the
 * post-install checks against it: 127.0.0.1, legacy (non-aggregated) discovery, JSON only.
 *
 * TLS: by default the server speaks https with a throw-away self-signed certificate (ECDSA P-256, SAN 127.0.0.1,
 * made in memory at start) that writeKubeconfig() embeds as `certificate-authority-data`. It has to: kubectl's
 * kubeconfig loader (client-go clientcmd) only applies a user's credentials -- `token` and `exec` plugins alike --
 * when the server URL is https, so over plain http kubectl sends no Authorization header and never runs
 * `aws eks get-token`. `{ tls: false }` gives plain http (fine for tests that do not care about credentials).
 *
 * Emulated: discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/apps/v1`); list/get/delete of deployments,
 * pods, nodes and secrets, namespaced and cluster-wide; label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
 * `k notin (a,b)`, comma = AND) and simple field selectors (`metadata.name=x`, `status.phase!=Running`, ...);
 * pod logs (text/plain); pod and secret create (`POST`, 409 AlreadyExists); a minimal `meta.k8s.io/v1` Table when kubectl asks
 * for one (its default human-readable output); watches (the stream stays open, sends DELETED when a watched object
 * disappears from the state, and ends after `timeoutSeconds` or at stop()).
 * Not emulated: authentication (every request is accepted; its Authorization header is recorded), TLS, protobuf
 * (a protobuf body is answered 415, so `kubectl create secret generic` fails: create from a file, which sends JSON),
 * aggregated discovery, patch/update, resourceVersion semantics.
 *
 * Test hooks outside the Kubernetes API, under `/__standin/` (never recorded in `requests`):
 * `POST /__standin/pods` with `{ pod, logs? }` creates a pod (201, or 409 with the API server's AlreadyExists Status)
 * and sets its log text; `GET /__standin/pods/<namespace>/<name>/log` returns a pod's log text (404 without the pod).
 * Secrets, the same way (Helm keeps its releases in them): `GET /__standin/secrets/<namespace>?labelSelector=...` lists
 * them (`{ items }`), `POST /__standin/secrets` with `{ secret }` creates one (201, or 409 AlreadyExists), and
 * `DELETE /__standin/secrets/<namespace>/<name>` deletes one (200, or 404 NotFound).
 * The helm stand-in uses these hooks, so its traffic never shows up among kubectl's requests.
 *
 * The server runs in the test's own process: run kubectl with an async child process (execFile/spawn), never with
 * execFileSync/spawnSync, which would block the event loop that answers kubectl.
 */

// Kubernetes objects are open-ended JSON; `spec`/`status` stay `any` so tests can tweak them directly.
/* eslint-disable @typescript-eslint/no-explicit-any */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  status?: any;
  [key: string]: unknown;
}

export interface KubeState {
  deployments: KubeObject[];
  pods: KubeObject[];
  nodes: KubeObject[];
  /** Secrets (`data` base64, as the API serves them), e.g. Helm's release secrets: see helmReleaseSecret(). */
  secrets: KubeObject[];
  /** Pod log text by pod name (any namespace). A pod without an entry has empty logs. */
  logs: Record<string, string>;
  /**
   * Namespaces that exist besides those of the objects above. Default: default, kube-system, kube-public,
   * kube-node-lease, apheris. kubectl asks for the namespace after a NotFound to word its error.
   */
  namespaces?: string[];
}

export interface RecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** The raw query string without `?`, '' when none. */
  query: string;
  authorization?: string;
  accept?: string;
}

export interface ExecCredentialPlugin {
  command: string;
  args: string[];
  env?: Array<{ name: string; value: string }>;
}

export interface KubeconfigOptions {
  /** Static bearer token (default when neither is given: no credentials at all). */
  token?: string;
  /** client.authentication.k8s.io/v1beta1 exec plugin, e.g. `aws eks get-token`. */
  exec?: ExecCredentialPlugin;
  /** Context namespace (default: none, i.e. kubectl uses `default`). */
  namespace?: string;
}

export interface KubeStandinOptions {
  /** Default true: https with a fresh self-signed certificate. false: plain http (kubectl then sends no credentials). */
  tls?: boolean;
}

export interface KubeStandin {
  /** `https://127.0.0.1:<port>` (or `http://` with `tls: false`) */
  url: string;
  /** PEM of the server's self-signed certificate (also its own CA); undefined with `tls: false`. */
  caPem?: string;
  /** Live, mutable state: every request reads it afresh. */
  state: KubeState;
  /** Every Kubernetes API request, in arrival order (test hooks under /__standin/ excluded). */
  requests: RecordedRequest[];
  /** Requests the stand-in did not recognise ("METHOD path?query"); they were answered 404 with a Status. */
  unhandled: string[];
  writeKubeconfig(file: string, opts?: KubeconfigOptions): void;
  stop(): Promise<void>;
}

const CLUSTER = 'standin';
export const STANDIN_SERVER_VERSION = 'v1.32.3';

interface ResourceDef {
  /** plural, as in URLs */
  name: string;
  singularName: string;
  kind: string;
  group: '' | 'apps';
  namespaced: boolean;
  shortNames: string[];
  stateKey: 'deployments' | 'pods' | 'nodes' | 'secrets' | 'namespaces';
}

const RESOURCES: ResourceDef[] = [
  { name: 'pods', singularName: 'pod', kind: 'Pod', group: '', namespaced: true, shortNames: ['po'], stateKey: 'pods' },
  { name: 'nodes', singularName: 'node', kind: 'Node', group: '', namespaced: false, shortNames: ['no'], stateKey: 'nodes' },
  { name: 'secrets', singularName: 'secret', kind: 'Secret', group: '', namespaced: true, shortNames: [], stateKey: 'secrets' },
  {
    name: 'namespaces',
    singularName: 'namespace',
    kind: 'Namespace',
    group: '',
    namespaced: false,
    shortNames: ['ns'],
    stateKey: 'namespaces',
  },
  {
    name: 'deployments',
    singularName: 'deployment',
    kind: 'Deployment',
    group: 'apps',
    namespaced: true,
    shortNames: ['deploy'],
    stateKey: 'deployments',
  },
];

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function apiResource(r: ResourceDef): Record<string, unknown> {
  return {
    name: r.name,
    singularName: r.singularName,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.namespaced ? ALL_VERBS : ALL_VERBS.filter((v) => v !== 'deletecollection' || r.name === 'nodes'),
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    // Secrets are not in `kubectl get all`.
    ...(r.namespaced && r.name !== 'secrets' ? { categories: ['all'] } : {}),
  };
}

function discoveryDocument(path: string): unknown | undefined {
  switch (path) {
    case '/version':
      return {
        major: '1',
        minor: '32',
        gitVersion: STANDIN_SERVER_VERSION,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2025-03-11T00:00:00Z',
        goVersion: 'go1.23.6',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    case '/api':
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }],
      };
    case '/apis':
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [
          {
            name: 'apps',
            versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
            preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
          },
        ],
      };
    case '/api/v1':
      return {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [
          ...RESOURCES.filter((r) => r.group === '').map(apiResource),
          { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
          { name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] },
          { name: 'nodes/status', singularName: '', namespaced: false, kind: 'Node', verbs: ['get', 'patch', 'update'] },
        ],
      };
    case '/apis/apps/v1':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'apps/v1',
        resources: [
          ...RESOURCES.filter((r) => r.group === 'apps').map(apiResource),
          { name: 'deployments/status', singularName: '', namespaced: true, kind: 'Deployment', verbs: ['get', 'patch', 'update'] },
          {
            name: 'deployments/scale',
            singularName: '',
            namespaced: true,
            group: 'autoscaling',
            version: 'v1',
            kind: 'Scale',
            verbs: ['get', 'patch', 'update'],
          },
        ],
      };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Selectors

type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export class SelectorError extends Error {}

export function parseSelector(selector: string): Requirement[] {
  return splitTopLevel(selector).map((term): Requirement => {
    let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (m) return { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) };
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) return { key: m[1], op: m[2] === '!=' ? 'neq' : 'eq', value: m[3] };
    m = /^!\s*([^=!\s]+)$/.exec(term);
    if (m) return { key: m[1], op: 'notexists' };
    m = /^([^=!\s(),]+)$/.exec(term);
    if (m) return { key: m[1], op: 'exists' };
    throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
  });
}

function matches(requirements: Requirement[], lookup: (key: string) => string | undefined): boolean {
  return requirements.every((r) => {
    const value = lookup(r.key);
    switch (r.op) {
      case 'exists':
        return value !== undefined;
      case 'notexists':
        return value === undefined;
      case 'eq':
        return value === r.value;
      case 'neq':
        return value !== r.value;
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'notin':
        return value === undefined || !r.values.includes(value);
    }
  });
}

function fieldValue(obj: KubeObject, path: string): string | undefined {
  let current: unknown = obj;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) return path === 'metadata.namespace' ? '' : undefined;
  return String(current);
}

// ---------------------------------------------------------------------------------------------------------------
// Responses

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function qualified(def: ResourceDef): string {
  return def.group ? `${def.name}.${def.group}` : def.name;
}

function notFound(def: ResourceDef, name: string): Record<string, unknown> {
  return status(404, 'NotFound', `${qualified(def)} "${name}" not found`, {
    name,
    ...(def.group ? { group: def.group } : {}),
    kind: def.name,
  });
}

function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/v1` : 'v1';
}

function age(creationTimestamp: string | undefined): string {
  if (!creationTimestamp) return '<unknown>';
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(creationTimestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

interface Column {
  name: string;
  type: string;
  format?: string;
  cell: (o: KubeObject) => string | number;
}

const TABLE_COLUMNS: Record<ResourceDef['stateKey'], Column[]> = {
  deployments: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    { name: 'Ready', type: 'string', cell: (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}` },
    { name: 'Up-to-date', type: 'integer', cell: (o) => o.status?.updatedReplicas ?? 0 },
    { name: 'Available', type: 'integer', cell: (o) => o.status?.availableReplicas ?? 0 },
    { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) },
  ],
  pods: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const statuses: Array<{ ready?: boolean }> = o.status?.containerStatuses ?? [];
        return `${statuses.filter((s) => s.ready).length}/${(o.spec?.containers ?? []).length}`;
      },
    },
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const phase: string = o.status?.phase ?? 'Pending';
        const terminated = (o.status?.containerStatuses ?? [])
          .map((s: any) => s?.state?.terminated?.reason)
          .find((r: unknown) => typeof r === 'string');
        return phase === 'Running' ? 'Running' : (terminated ?? phase);
      },
    },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, s: any) => n + (s?.restartCount ?? 0), 0)),
    },
    { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) },
  ],
  nodes: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const ready = (o.status?.conditions ?? []).find((c: any) => c?.type === 'Ready');
        return ready?.status === 'True' ? 'Ready' : 'NotReady';
      },
    },
    { name: 'Roles', type: 'string', cell: () => '<none>' },
    { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) },
    { name: 'Version', type: 'string', cell: (o) => o.status?.nodeInfo?.kubeletVersion ?? '' },
  ],
  secrets: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    { name: 'Type', type: 'string', cell: (o) => String(o.type ?? 'Opaque') },
    { name: 'Data', type: 'string', cell: (o) => String(Object.keys((o.data as Record<string, string> | undefined) ?? {}).length) },
    { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) },
  ],
  namespaces: [
    { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name },
    { name: 'Status', type: 'string', cell: (o) => o.status?.phase ?? 'Active' },
    { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) },
  ],
};

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'apheris'];

function namespaceObject(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, creationTimestamp: '2025-01-01T00:00:00Z', labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function table(def: ResourceDef, items: KubeObject[]): Record<string, unknown> {
  const columns = TABLE_COLUMNS[def.stateKey];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '1' },
    columnDefinitions: columns.map((c, i) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.name,
      priority: i === 0 ? 0 : 0,
    })),
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

// ---------------------------------------------------------------------------------------------------------------
// Server

interface Watch {
  def: ResourceDef;
  namespace?: string;
  labelReqs: Requirement[];
  fieldReqs: Requirement[];
  /** key -> JSON of the object as last sent */
  seen: Map<string, string>;
  res: http.ServerResponse;
}

const emptyState = (): KubeState => ({ deployments: [], pods: [], nodes: [], secrets: [], logs: {} });

export async function startKubeStandin(initial?: Partial<KubeState>, options: KubeStandinOptions = {}): Promise<KubeStandin> {
  const state: KubeState = { ...emptyState(), ...initial };
  const requests: RecordedRequest[] = [];
  const unhandled: string[] = [];
  const watches = new Set<Watch>();
  let nextUid = 1;
  let rv = 100;

  const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

  function objects(def: ResourceDef): KubeObject[] {
    if (def.stateKey !== 'namespaces') return state[def.stateKey];
    const names = new Set(state.namespaces ?? DEFAULT_NAMESPACES);
    for (const o of [...state.deployments, ...state.pods, ...state.secrets]) names.add(o.metadata.namespace ?? 'default');
    return [...names].sort().map(namespaceObject);
  }

  /** Matching objects in the API server's (etcd key) order: by namespace, then name. */
  function select(def: ResourceDef, namespace: string | undefined, labelReqs: Requirement[], fieldReqs: Requirement[]) {
    return objects(def)
      .filter(
        (o) =>
          (namespace === undefined || (o.metadata.namespace ?? 'default') === namespace) &&
          matches(labelReqs, (k) => o.metadata.labels?.[k]) &&
          matches(fieldReqs, (k) => fieldValue(o, k)),
      )
      .sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  }

  function withTypeMeta(def: ResourceDef, o: KubeObject): KubeObject {
    return {
      ...o,
      apiVersion: o.apiVersion ?? apiVersionOf(def),
      kind: o.kind ?? def.kind,
      metadata: { resourceVersion: '1', ...o.metadata },
    };
  }

  const snapshot = (def: ResourceDef, items: KubeObject[]) =>
    new Map(items.map((o) => [keyOf(o), JSON.stringify(withTypeMeta(def, o))]));

  // Watches: a 50 ms poll diffs the state, so tests may mutate it directly; ADDED / MODIFIED / DELETED events.
  const poll = setInterval(() => {
    for (const w of watches) {
      const now = snapshot(w.def, select(w.def, w.namespace, w.labelReqs, w.fieldReqs));
      for (const [key, json] of w.seen) {
        if (!now.has(key)) w.res.write(`{"type":"DELETED","object":${json}}\n`);
      }
      for (const [key, json] of now) {
        const before = w.seen.get(key);
        if (before === undefined) w.res.write(`{"type":"ADDED","object":${json}}\n`);
        else if (before !== json) w.res.write(`{"type":"MODIFIED","object":${json}}\n`);
      }
      w.seen = now;
    }
  }, 50);
  poll.unref();

  function send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  /** POST of a namespaced object (pods, secrets): 201 with the stored object, 409 AlreadyExists, 422 without a name. */
  function createObject(def: ResourceDef, namespace: string, obj: KubeObject): { code: number; body: unknown } {
    const name = obj?.metadata?.name;
    if (!name) {
      return { code: 422, body: status(422, 'Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name is required`) };
    }
    const list = state[def.stateKey as 'pods' | 'secrets'];
    if (list.some((o) => o.metadata.name === name && (o.metadata.namespace ?? 'default') === namespace)) {
      return {
        code: 409,
        body: status(409, 'AlreadyExists', `${def.name} "${name}" already exists`, { name, kind: def.name }),
      };
    }
    const stored: KubeObject = {
      ...obj,
      apiVersion: 'v1',
      kind: def.kind,
      metadata: {
        uid: `standin-uid-${nextUid++}`,
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...obj.metadata,
        namespace,
        resourceVersion: String(++rv),
      },
    };
    list.push(stored);
    return { code: 201, body: withTypeMeta(def, stored) };
  }

  const createPod = (namespace: string, pod: KubeObject) => createObject(RESOURCES[0], namespace, pod);
  const SECRETS = RESOURCES.find((r) => r.name === 'secrets')!;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const accept = req.headers.accept;

    if (path.startsWith('/__standin/')) {
      if (method === 'POST' && path === '/__standin/pods') {
        let parsed: { pod: KubeObject; logs?: string };
        try {
          parsed = JSON.parse(await readBody(req));
        } catch (e) {
          return send(res, 400, status(400, 'BadRequest', `invalid JSON: ${(e as Error).message}`));
        }
        const namespace = parsed.pod?.metadata?.namespace ?? 'default';
        const result = createPod(namespace, parsed.pod);
        if (result.code === 201 && parsed.logs !== undefined) state.logs[parsed.pod.metadata.name] = parsed.logs;
        return send(res, result.code, result.body);
      }
      const logPath = /^\/__standin\/pods\/([^/]+)\/([^/]+)\/log$/.exec(path);
      if (method === 'GET' && logPath) {
        const [namespace, name] = [decodeURIComponent(logPath[1]), decodeURIComponent(logPath[2])];
        if (!state.pods.some((p) => p.metadata.name === name && (p.metadata.namespace ?? 'default') === namespace)) {
          return send(res, 404, notFound(RESOURCES[0], name));
        }
        const text = state.logs[name] ?? '';
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      if (method === 'POST' && path === '/__standin/secrets') {
        let parsed: { secret: KubeObject };
        try {
          parsed = JSON.parse(await readBody(req));
        } catch (e) {
          return send(res, 400, status(400, 'BadRequest', `invalid JSON: ${(e as Error).message}`));
        }
        const result = createObject(SECRETS, parsed.secret?.metadata?.namespace ?? 'default', parsed.secret);
        return send(res, result.code, result.body);
      }
      const secretsPath = /^\/__standin\/secrets\/([^/]+)(?:\/([^/]+))?$/.exec(path);
      if (secretsPath) {
        const namespace = decodeURIComponent(secretsPath[1]);
        const name = secretsPath[2] === undefined ? undefined : decodeURIComponent(secretsPath[2]);
        if (method === 'GET' && name === undefined) {
          let labelReqs: Requirement[];
          try {
            labelReqs = parseSelector(url.searchParams.get('labelSelector') ?? '');
          } catch (e) {
            return send(res, 400, status(400, 'BadRequest', (e as Error).message));
          }
          return send(res, 200, { kind: 'SecretList', apiVersion: 'v1', items: select(SECRETS, namespace, labelReqs, []).map((o) => withTypeMeta(SECRETS, o)) });
        }
        if (method === 'DELETE' && name !== undefined) {
          const index = state.secrets.findIndex((o) => o.metadata.name === name && (o.metadata.namespace ?? 'default') === namespace);
          if (index < 0) return send(res, 404, notFound(SECRETS, name));
          const [removed] = state.secrets.splice(index, 1);
          return send(res, 200, withTypeMeta(SECRETS, removed));
        }
      }
      unhandled.push(`${method} ${url.pathname}${url.search}`);
      return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }

    requests.push({
      method,
      path,
      query: url.search.replace(/^\?/, ''),
      ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
      ...(accept !== undefined ? { accept } : {}),
    });

    const unknown = () => {
      unhandled.push(`${method} ${url.pathname}${url.search}`);
      console.warn(`kube-standin: unhandled ${method} ${url.pathname}${url.search}`);
      send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    };

    if (method === 'GET') {
      const doc = discoveryDocument(path);
      if (doc !== undefined) return send(res, 200, doc);
    }

    // /api/v1/... or /apis/apps/v1/...
    const m = /^\/(?:api\/v1|apis\/(apps)\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return unknown();
    const [, group = '', namespace, plural, name, sub] = m;
    const def = RESOURCES.find((r) => r.name === plural && r.group === group);
    if (!def || (namespace !== undefined && !def.namespaced)) return unknown();
    if (sub !== undefined && !(sub === 'log' && def.name === 'pods')) return unknown();

    let labelReqs: Requirement[];
    let fieldReqs: Requirement[];
    try {
      labelReqs = parseSelector(url.searchParams.get('labelSelector') ?? '');
      fieldReqs = parseSelector(url.searchParams.get('fieldSelector') ?? '');
    } catch (e) {
      return send(res, 400, status(400, 'BadRequest', (e as Error).message));
    }

    const find = () =>
      objects(def).find(
        (o) => o.metadata.name === name && (!def.namespaced || (o.metadata.namespace ?? 'default') === namespace),
      );

    if (name === undefined) {
      if (method === 'GET') {
        const items = select(def, namespace, labelReqs, fieldReqs);
        if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
          res.flushHeaders();
          const watch: Watch = { def, namespace, labelReqs, fieldReqs, seen: snapshot(def, items), res };
          watches.add(watch);
          const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
          const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
          timer?.unref();
          res.on('close', () => {
            watches.delete(watch);
            if (timer) clearTimeout(timer);
          });
          return;
        }
        if (wantsTable(accept)) return send(res, 200, table(def, items));
        return send(res, 200, {
          kind: `${def.kind}List`,
          apiVersion: apiVersionOf(def),
          metadata: { resourceVersion: '1' },
          items: items.map((o) => withTypeMeta(def, o)),
        });
      }
      if (method === 'POST' && (def.name === 'pods' || def.name === 'secrets') && namespace !== undefined) {
        // kubectl's typed clients (e.g. `kubectl create secret`) send protobuf; 415 makes client-go send JSON instead.
        if (/protobuf/.test(String(req.headers['content-type'] ?? ''))) {
          await readBody(req);
          return send(res, 415, status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json`));
        }
        let obj: KubeObject;
        try {
          obj = JSON.parse(await readBody(req));
        } catch (e) {
          return send(res, 400, status(400, 'BadRequest', `invalid JSON: ${(e as Error).message}`));
        }
        const result = createObject(def, namespace, obj);
        return send(res, result.code, result.body);
      }
      return unknown();
    }

    const obj = find();
    if (sub === 'log') {
      if (method !== 'GET') return unknown();
      if (!obj) return send(res, 404, notFound(def, name));
      const text = state.logs[name] ?? '';
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (method === 'GET') {
      if (!obj) return send(res, 404, notFound(def, name));
      if (wantsTable(accept)) return send(res, 200, table(def, [obj]));
      return send(res, 200, withTypeMeta(def, obj));
    }
    if (method === 'DELETE' && def.stateKey !== 'namespaces') {
      await readBody(req);
      if (!obj) return send(res, 404, notFound(def, name));
      const list = state[def.stateKey];
      list.splice(list.indexOf(obj), 1);
      if (def.name === 'pods') delete state.logs[name];
      return send(res, 200, withTypeMeta(def, obj));
    }
    return unknown();
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, status(500, 'InternalError', String(e)));
      else res.end();
    });
  };
  const tls = options.tls === false ? undefined : selfSignedCertificate();
  const server = tls ? https.createServer({ key: tls.keyPem, cert: tls.certPem }, listener) : http.createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    ...(tls ? { caPem: tls.certPem } : {}),
    state,
    requests,
    unhandled,
    writeKubeconfig(file: string, opts: KubeconfigOptions = {}): void {
      const user: Record<string, unknown> = {};
      if (opts.token !== undefined) user.token = opts.token;
      if (opts.exec) {
        user.exec = {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command: opts.exec.command,
          args: opts.exec.args,
          ...(opts.exec.env ? { env: opts.exec.env } : {}),
          interactiveMode: 'Never',
          provideClusterInfo: false,
        };
      }
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: CLUSTER,
            cluster: { server: url, ...(tls ? { 'certificate-authority-data': Buffer.from(tls.certPem).toString('base64') } : {}) },
          },
        ],
        users: [{ name: CLUSTER, user }],
        contexts: [{ name: CLUSTER, context: { cluster: CLUSTER, user: CLUSTER, ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
        'current-context': CLUSTER,
        preferences: {},
      };
      writeFileSync(file, toYaml(config), { mode: 0o600 });
    },
    async stop(): Promise<void> {
      clearInterval(poll);
      for (const w of watches) w.res.end();
      watches.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A self-signed X.509 certificate, DER-encoded by hand (node:crypto signs but cannot issue certificates)

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...c: Buffer[]) => der(0x30, ...c);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const text = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(text, 'ascii'));
}
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value));

/** ECDSA P-256, CN=kube-standin, SAN IP:127.0.0.1 + DNS:localhost, CA:TRUE (it is its own trust anchor), one week. */
function selfSignedCertificate(): { keyPem: string; certPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from('kube-standin')))));
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x3f) | 0x40; // positive and minimal (a DER INTEGER may not start with a redundant 0x00)
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    ecdsaWithSha256,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 7 * 86400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(
      0xa3,
      seq(
        extension('2.5.29.19', true, seq(der(0x01, Buffer.from([0xff])))), // basicConstraints CA:TRUE
        extension('2.5.29.15', true, der(0x03, Buffer.from([0x02, 0x84]))), // keyUsage digitalSignature, keyCertSign
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage serverAuth
        extension('2.5.29.17', false, seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost')))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.from([0]), signature));
  const certPem = new X509Certificate(cert).toString(); // also validates the encoding
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem };
}

/**
 * Environment for a kubectl child process: only PATH from the parent, KUBECONFIG set, and HOME/KUBECACHEDIR moved
 * into `dir` so neither the developer's ~/.kube (config, discovery cache) nor ~/.aws is read or written.
 */
export function kubectlEnv(dir: string, kubeconfig: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: dir,
    KUBECONFIG: kubeconfig,
    KUBECACHEDIR: `${dir}/.kube-cache`,
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Builders for realistic objects (namespace `apheris` unless told otherwise)

const CREATED = '2025-01-01T00:00:00Z';
let builderUid = 0;
const uid = (prefix: string) => `${prefix}-0000-4000-8000-${String(++builderUid).padStart(12, '0')}`;

export interface AgentDeploymentOptions {
  name?: string;
  namespace?: string;
  image?: string;
  /** `sha256:<hex>` (or bare hex); the image becomes `<image>@sha256:<hex>`. */
  digest?: string;
  replicas?: number;
  readyReplicas?: number;
  labels?: Record<string, string>;
  /** Added to the object's labels (besides `labels`, which also go on the pod template), e.g. Flux's or Argo CD's. */
  extraLabels?: Record<string, string>;
  /** Added to (or replacing) the default annotations: Helm's meta.helm.sh/release-name and -namespace, the revision. */
  annotations?: Record<string, string>;
  generation?: number;
  observedGeneration?: number;
}

export function agentDeployment(opts: AgentDeploymentOptions = {}): KubeObject {
  const name = opts.name ?? 'apheris-gateway-agent';
  const replicas = opts.replicas ?? 1;
  const readyReplicas = opts.readyReplicas ?? replicas;
  const generation = opts.generation ?? 1;
  const baseImage = opts.image ?? 'quay.io/apheris/gateway-agent:0.16.20';
  const image = opts.digest ? `${baseImage}@${opts.digest.startsWith('sha256:') ? opts.digest : `sha256:${opts.digest}`}` : baseImage;
  const labels = opts.labels ?? { 'apheris-component': 'agent' };
  const selector = { 'app.kubernetes.io/name': name };
  const status: Record<string, unknown> = {
    observedGeneration: opts.observedGeneration ?? generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas,
    availableReplicas: readyReplicas,
    conditions: [
      {
        type: 'Available',
        status: readyReplicas >= replicas ? 'True' : 'False',
        reason: readyReplicas >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        lastUpdateTime: CREATED,
        lastTransitionTime: CREATED,
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        lastUpdateTime: CREATED,
        lastTransitionTime: CREATED,
      },
    ],
  };
  if (readyReplicas === 0) {
    delete status.readyReplicas;
    delete status.availableReplicas;
    status.unavailableReplicas = replicas;
  } else if (readyReplicas < replicas) status.unavailableReplicas = replicas - readyReplicas;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: opts.namespace ?? 'apheris',
      uid: uid('d'),
      resourceVersion: '1',
      generation,
      creationTimestamp: CREATED,
      labels: { 'app.kubernetes.io/managed-by': 'Helm', ...labels, ...opts.extraLabels },
      annotations: {
        'deployment.kubernetes.io/revision': '1',
        'meta.helm.sh/release-name': 'apheris-gateway',
        'meta.helm.sh/release-namespace': 'apheris',
        ...opts.annotations,
      },
    },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { ...selector, ...labels } },
        spec: {
          containers: [
            {
              name: 'agent',
              image,
              imagePullPolicy: 'IfNotPresent',
              resources: { requests: { cpu: '250m', memory: '512Mi' } },
            },
          ],
          restartPolicy: 'Always',
        },
      },
    },
    status,
  };
}

export interface HelmReleaseSecretOptions {
  /** Release name; default apheris-gateway. */
  release?: string;
  namespace?: string;
  /** Release revision: the secret is `sh.helm.release.v1.<release>.v<revision>`. Default 1. */
  revision?: number;
  /** deployed (default), superseded, failed, uninstalled, pending-install, pending-upgrade, ... */
  status?: string;
  chart?: string;
  chartVersion?: string;
  appVersion?: string;
  /** The user-supplied values Helm stores in the release (`config`): secret, like the real ones. */
  values?: Record<string, unknown>;
  /** Added to Helm's labels (owner, name, status, version, modifiedAt). */
  extraLabels?: Record<string, string>;
}

/**
 * A Helm 3 release secret as Helm's secret storage driver writes it: type helm.sh/release.v1, labels owner=helm,
 * name, status, version, modifiedAt, and `data.release` = base64(gzip(release JSON)) -- served base64 once more
 * in the API, as every secret's data. The release JSON holds the values: it is exactly what must never be printed.
 */
export function helmReleaseSecret(opts: HelmReleaseSecretOptions = {}): KubeObject {
  const release = opts.release ?? 'apheris-gateway';
  const namespace = opts.namespace ?? 'apheris';
  const revision = opts.revision ?? 1;
  const status = opts.status ?? 'deployed';
  const chartVersion = opts.chartVersion ?? '0.16.20';
  const body = {
    name: release,
    info: { first_deployed: CREATED, last_deployed: CREATED, deleted: '', description: 'Install complete', status },
    chart: { metadata: { name: opts.chart ?? 'gateway-agent', version: chartVersion, appVersion: opts.appVersion ?? chartVersion, apiVersion: 'v2' } },
    config: opts.values ?? {},
    manifest: '',
    version: revision,
    namespace,
  };
  const encoded = gzipSync(Buffer.from(JSON.stringify(body))).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'helm.sh/release.v1',
    metadata: {
      name: `sh.helm.release.v1.${release}.v${revision}`,
      namespace,
      uid: uid('s'),
      resourceVersion: '1',
      creationTimestamp: CREATED,
      labels: { owner: 'helm', name: release, status, version: String(revision), modifiedAt: '1735689600', ...opts.extraLabels },
    },
    data: { release: Buffer.from(encoded).toString('base64') },
  };
}

/** The release JSON inside a release secret (the inverse of helmReleaseSecret's encoding). */
export function decodeHelmRelease(secret: KubeObject): any {
  const data = (secret.data as Record<string, string> | undefined)?.release;
  if (!data) throw new Error(`secret ${secret.metadata.name} has no data.release`);
  return JSON.parse(gunzipSync(Buffer.from(Buffer.from(data, 'base64').toString('utf8'), 'base64')).toString('utf8'));
}

export interface JobPodOptions {
  name: string;
  jobId: string;
  namespace?: string;
  memoryRequest?: string;
  cpuRequest?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  nodeName?: string;
  image?: string;
}

export function jobPod(opts: JobPodOptions): KubeObject {
  const phase = opts.phase ?? 'Running';
  const requests: Record<string, string> = { memory: opts.memoryRequest ?? '4Gi' };
  if (opts.cpuRequest !== undefined) requests.cpu = opts.cpuRequest;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name,
      namespace: opts.namespace ?? 'apheris',
      uid: uid('p'),
      resourceVersion: '1',
      creationTimestamp: CREATED,
      labels: { apheris_job_id: opts.jobId },
    },
    spec: {
      containers: [
        {
          name: 'computation',
          image: opts.image ?? 'quay.io/apheris/computation:latest',
          resources: { requests, limits: { memory: requests.memory } },
        },
      ],
      restartPolicy: 'Never',
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
    },
    status: {
      phase,
      containerStatuses: [
        {
          name: 'computation',
          ready: phase === 'Running',
          restartCount: 0,
          image: opts.image ?? 'quay.io/apheris/computation:latest',
          state: phase === 'Running' ? { running: { startedAt: CREATED } } : phase === 'Pending' ? { waiting: { reason: 'ContainerCreating' } } : terminated(phase),
        },
      ],
    },
  };
}

function terminated(phase: 'Succeeded' | 'Failed'): Record<string, unknown> {
  return {
    terminated: {
      exitCode: phase === 'Succeeded' ? 0 : 1,
      reason: phase === 'Succeeded' ? 'Completed' : 'Error',
      startedAt: CREATED,
      finishedAt: CREATED,
    },
  };
}

export interface TestPodOptions {
  name?: string;
  namespace?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
}

/** The Helm test hook pod of the gateway agent chart. */
export function testPod(opts: TestPodOptions = {}): KubeObject {
  const name = opts.name ?? 'apheris-gateway-connectivity-test';
  const phase = opts.phase ?? 'Succeeded';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? 'apheris',
      uid: uid('t'),
      resourceVersion: '1',
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      annotations: { 'helm.sh/hook': 'test' },
    },
    spec: {
      containers: [{ name: 'connectivity-test', image: 'quay.io/apheris/gateway-agent:0.16.20' }],
      restartPolicy: 'Never',
    },
    status: {
      phase,
      containerStatuses: [
        {
          name: 'connectivity-test',
          ready: phase === 'Running',
          restartCount: 0,
          state: phase === 'Running' ? { running: { startedAt: CREATED } } : phase === 'Pending' ? { waiting: { reason: 'ContainerCreating' } } : terminated(phase),
        },
      ],
    },
  };
}

export interface NodeOptions {
  name: string;
  allocatableMemory?: string;
  capacityMemory?: string;
  cpu?: string;
  labels?: Record<string, string>;
  ready?: boolean;
}

export function node(opts: NodeOptions): KubeObject {
  const allocatableMemory = opts.allocatableMemory ?? '16Gi';
  const cpu = opts.cpu ?? '4';
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: opts.name,
      uid: uid('n'),
      resourceVersion: '1',
      creationTimestamp: CREATED,
      labels: {
        'kubernetes.io/hostname': opts.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...opts.labels,
      },
    },
    spec: { providerID: `aws:///eu-central-1a/i-${opts.name.replace(/[^a-z0-9]/gi, '').slice(0, 17)}` },
    status: {
      capacity: { cpu, memory: opts.capacityMemory ?? allocatableMemory, pods: '110', 'ephemeral-storage': '20959212Ki' },
      allocatable: { cpu, memory: allocatableMemory, pods: '110', 'ephemeral-storage': '19316009748' },
      conditions: [
        {
          type: 'Ready',
          status: opts.ready === false ? 'False' : 'True',
          reason: opts.ready === false ? 'KubeletNotReady' : 'KubeletReady',
          lastHeartbeatTime: CREATED,
          lastTransitionTime: CREATED,
        },
      ],
      nodeInfo: { kubeletVersion: 'v1.32.3-eks-473151a', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}
