/**
 * Which Helm release a failed apply's "cannot re-use a name that is still in use" is about: read from the error
 * and the run's plan, never assumed.
 *
 * Helm 3's message does not name the release. The helm provider reports it as a Terraform diagnostic (provider 2.x
 * as the summary, 3.x as the detail of "installation failed"; a module that runs `helm install` in a local-exec
 * provisioner as the command's output), and Terraform prints the failing resource on the diagnostic's
 * `with <address>,` line. That resource's planned `name` and `namespace` are in the plan's resource_changes, which
 * the redacted plan.json keeps. Helm 2 did name the release ("a released named X is in use"); such a name is
 * read too, and must agree with the plan. Whatever cannot be resolved stays unidentified: the deployer then
 * offers no uninstall at all.
 */
import type { ResourceChange, TerraformPlan } from './plan';
import { RELEASE_NAME, RELEASE_NAMESPACE, uninstallCommand } from './release-ownership';

/** Helm's words; Terraform may wrap them over lines of its box (any run of spaces, newlines and │ between words). */
export const NAME_IN_USE = /cannot[\s│]+re-use[\s│]+a[\s│]+name[\s│]+that[\s│]+is[\s│]+still[\s│]+in[\s│]+use/i;

/** The release the failing resource installs, and how sure the deployer is of it. */
export type FailingRelease =
  /** The gateway's own release, as the vendor's module and the HOWTO "Deploying on AWS EKS" create it. */
  | { readonly kind: 'gateway'; readonly name: string; readonly namespace: string; readonly address?: string }
  /** Any other release: never the deployer's to uninstall. */
  | { readonly kind: 'other'; readonly name: string; readonly namespace: string; readonly address?: string }
  /** The name and namespace could not both be read: `reason` says why. */
  | { readonly kind: 'unidentified'; readonly reason: string; readonly name?: string; readonly address?: string };

export interface TerraformDiagnostic {
  readonly severity: 'Error' | 'Warning';
  readonly summary: string;
  /** The resource of a `with <address>,` line, when Terraform printed one. */
  readonly address?: string;
  /** Summary and body, box characters removed. */
  readonly text: string;
}

/** Whether the output holds Helm's name-reuse error anywhere (line wraps and Terraform's box included). */
export const mentionsNameReuse = (output: string): boolean => NAME_IN_USE.test(output);

const collapse = (text: string): string => text.replace(/[│┃]/g, ' ').replace(/\s+/g, ' ');

/** Helm 3's release name rule (a DNS-1123 subdomain of at most 53 characters) and a namespace's (a label). */
const RELEASE_NAME_RULE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE_RULE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const isReleaseName = (value: unknown): value is string => typeof value === 'string' && value.length <= 53 && RELEASE_NAME_RULE.test(value);
export const isNamespace = (value: unknown): value is string => typeof value === 'string' && value.length <= 63 && NAMESPACE_RULE.test(value);

export const isGatewayRelease = (name: string, namespace: string): boolean => name === RELEASE_NAME && namespace === RELEASE_NAMESPACE;

/**
 * Terraform's error and warning diagnostics in a command's output, plain (`-no-color`) or boxed (`╷ │ ╵`). A
 * diagnostic starts with `Error: <summary>` followed by an empty line, which is how Terraform lays it out; an
 * `Error:` that a tool printed inside a diagnostic's detail is followed by more text, and stays part of it.
 */
export function terraformDiagnostics(output: string): TerraformDiagnostic[] {
  const lines = output.split(/\r?\n/).map((line) => line.replace(/^[│┃] ?/, ''));
  const found: TerraformDiagnostic[] = [];
  let current: { severity: TerraformDiagnostic['severity']; summary: string; body: string[] } | undefined;
  const close = () => {
    if (!current) return;
    const address = current.body.map((line) => /^\s*with (.+),\s*$/.exec(line)?.[1]).find((a) => a !== undefined);
    found.push({
      severity: current.severity,
      summary: current.summary,
      ...(address ? { address } : {}),
      text: [`${current.severity}: ${current.summary}`, ...current.body].join('\n'),
    });
    current = undefined;
  };
  for (const [i, line] of lines.entries()) {
    const start = /^(Error|Warning): (.+)$/.exec(line);
    if (/^\s*[╷╵]\s*$/.test(line)) {
      close();
    } else if (start && (lines[i + 1] ?? '').trim() === '') {
      close();
      current = { severity: start[1] as TerraformDiagnostic['severity'], summary: start[2].trim(), body: [] };
    } else {
      current?.body.push(line);
    }
  }
  close();
  return found;
}

/** A release the message itself names: Helm 2's "a released named X is in use" (sic) and Tiller's variants. */
export function releaseNamedIn(text: string): string | undefined {
  const named = /\ba released? named "?([^\s",]+?)"? is in use/i.exec(collapse(text))?.[1];
  return isReleaseName(named) ? named : undefined;
}

export type PlannedRelease = { readonly name: string; readonly namespace: string } | { readonly reason: string };

/** Where a resource keeps the release's name and namespace. */
function releaseAttributes(change: ResourceChange): Record<string, unknown> | undefined {
  const after = change.change.after as Record<string, unknown> | null | undefined;
  if (change.type === 'helm_release') return after ?? undefined;
  // A module that installs with `helm install` in a provisioner keeps them in terraform_data's input (as the tests'
  // sample module does).
  if (change.type === 'terraform_data') {
    const input = after?.input;
    return input && typeof input === 'object' ? (input as Record<string, unknown>) : undefined;
  }
  return undefined;
}

/** The release name and namespace the plan gives the resource at `address`. */
export function plannedReleaseAt(plan: TerraformPlan, address: string): PlannedRelease {
  const change = (plan.resource_changes ?? []).find((rc) => rc.address === address && (rc.mode ?? 'managed') === 'managed');
  if (!change) return { reason: `${address} is not among the plan's resource changes` };
  if (change.type !== 'helm_release' && change.type !== 'terraform_data') return { reason: `${address} is a ${change.type}, not a helm_release` };
  const attributes = releaseAttributes(change);
  const name = attributes?.name;
  // The helm provider's schema defaults the namespace to "default", so a plan always shows one; be as lenient.
  const namespace = attributes?.namespace ?? (change.type === 'helm_release' ? 'default' : undefined);
  if (!isReleaseName(name)) return { reason: `the plan shows no release name for ${address} (unknown until apply, or masked)` };
  if (!isNamespace(namespace)) return { reason: `the plan shows no namespace for ${address} (unknown until apply, or masked)` };
  return { name, namespace };
}

function identify(site: { readonly address?: string; readonly named?: string }, plan: TerraformPlan | null | undefined): FailingRelease {
  const { address, named } = site;
  const at = address ? { address } : {};
  const planned: PlannedRelease =
    address === undefined
      ? { reason: 'Terraform named no resource for the error (no "with <address>," line)' }
      : plan
        ? plannedReleaseAt(plan, address)
        : { reason: `the run's plan was not available to look up ${address}` };
  if ('name' in planned) {
    if (named !== undefined && named !== planned.name) {
      return { kind: 'unidentified', ...at, reason: `the error names the release ${named}, but the plan has ${address} install ${planned.name}` };
    }
    return { kind: isGatewayRelease(planned.name, planned.namespace) ? 'gateway' : 'other', name: planned.name, namespace: planned.namespace, ...at };
  }
  if (named !== undefined) return { kind: 'unidentified', name: named, ...at, reason: `${planned.reason}; the error names the release but not its namespace` };
  return { kind: 'unidentified', ...at, reason: planned.reason };
}

/**
 * Every release the output's name-reuse errors are about, one per failing resource. Each error diagnostic that
 * holds Helm's words counts; when none does (the words only in streamed tool output), the one entry is unidentified.
 */
export function failingReleases(output: string, plan?: TerraformPlan | null): FailingRelease[] {
  if (!mentionsNameReuse(output)) return [];
  const located = terraformDiagnostics(output).filter((d) => d.severity === 'Error' && NAME_IN_USE.test(d.text));
  const sites = located.length ? located.map((d) => ({ address: d.address, named: releaseNamedIn(d.text) })) : [{ named: releaseNamedIn(output) }];
  const seen = new Set<string>();
  return sites
    .map((site) => identify(site, plan))
    .filter((release) => {
      const key = JSON.stringify(release);
      return seen.has(key) ? false : (seen.add(key), true);
    });
}

const installedBy = (address: string | undefined) => (address ? `, which ${address} installs,` : '');

function summaryOf(release: FailingRelease): string {
  switch (release.kind) {
    case 'gateway':
      return `the gateway's Helm release ${release.name} (namespace ${release.namespace}) exists on the cluster but not in the Terraform state`;
    case 'other':
      return `the Helm release ${release.name} (namespace ${release.namespace})${installedBy(release.address)} exists on the cluster but not in the Terraform state; it is not the gateway's release`;
    case 'unidentified':
      return `a Helm release${release.name ? ` named ${release.name}` : ''}${installedBy(release.address)} exists on the cluster but not in the Terraform state; which release could not be told: ${release.reason}`;
  }
}

function adviceOf(release: FailingRelease): string {
  switch (release.kind) {
    case 'gateway':
      return (
        `As the FAQ of the HOWTO "Deploying on AWS EKS" says: make sure the Helm release ${release.name} is not managed by another system first. ` +
        `Then uninstall it (${uninstallCommand(release.name, release.namespace)}) and run the deployment again; the deployer offers this once a run, after it has inspected who manages the release.`
      );
    case 'other':
      return (
        `The release ${release.name} in ${release.namespace} is not the gateway's (${RELEASE_NAME} in ${RELEASE_NAMESPACE}), so the deployer does not uninstall it. ` +
        'Make sure it is not managed by another system (Flux, Argo CD, another Terraform state, a person), then uninstall it yourself ' +
        `(${uninstallCommand(release.name, release.namespace)}) or give the module's release another name, and run the deployment again.`
      );
    case 'unidentified':
      return (
        'The deployer could not tell which release this is, so it uninstalls nothing. The build log\'s "with" line names the resource that failed; ' +
        'find its release name and namespace in the plan, make sure no other system manages that release, then uninstall it yourself ' +
        '(helm uninstall <name> -n <namespace>) or rename it, and run the deployment again.'
      );
  }
}

/** The failure's summary and advice, naming each release as far as it is known. */
export function describeNameReuse(releases: readonly FailingRelease[]): { readonly summary: string; readonly advice: string } {
  const known: readonly FailingRelease[] = releases.length ? releases : [{ kind: 'unidentified', reason: 'no Terraform error names the failing resource' }];
  return { summary: known.map(summaryOf).join('; '), advice: [...new Set(known.map(adviceOf))].join(' ') };
}
