/**
 * The Terraform plan, made safe to store and show, summarized the way `terraform apply` prints it before its
 * "Do you want to perform these actions?", and judged for risk.
 *
 * `terraform show -json` prints sensitive values in clear. The redacted plan therefore keeps only what a
 * reviewer needs (the resource and output changes), masks every value the plan itself marks sensitive, and
 * finally replaces every known secret string wherever it still appears.
 */

export type ChangeAction = 'no-op' | 'create' | 'read' | 'update' | 'delete' | 'forget';

export interface ResourceChange {
  readonly address: string;
  readonly module_address?: string;
  readonly mode?: string;
  readonly type: string;
  readonly name: string;
  readonly action_reason?: string;
  readonly change: Change & { readonly replace_paths?: unknown };
}

/** A change of a resource or an output: what Terraform plans, and which parts of it are sensitive. */
export interface Change {
  readonly actions: readonly ChangeAction[];
  readonly before?: unknown;
  readonly after?: unknown;
  readonly after_unknown?: unknown;
  readonly before_sensitive?: unknown;
  readonly after_sensitive?: unknown;
}

export type OutputChange = Change;

/** The part of `terraform show -json <plan>` this project reads. */
export interface TerraformPlan {
  readonly format_version?: string;
  readonly terraform_version?: string;
  readonly applyable?: boolean;
  readonly complete?: boolean;
  readonly errored?: boolean;
  readonly resource_changes?: readonly ResourceChange[];
  readonly resource_drift?: readonly ResourceChange[];
  readonly output_changes?: Readonly<Record<string, OutputChange>>;
  readonly [other: string]: unknown;
}

export const SENSITIVE = '(sensitive)';
export const REDACTED = '(redacted)';

/** Replaces the parts of a value that a Terraform sensitivity mask marks `true`. */
export function maskSensitive(value: unknown, mask: unknown): unknown {
  if (mask === true) return value === null || value === undefined ? value : SENSITIVE;
  if (mask === null || mask === undefined || mask === false || typeof mask !== 'object') return value;
  if (Array.isArray(value)) {
    return Array.isArray(mask) ? value.map((item, i) => maskSensitive(item, mask[i])) : value;
  }
  if (value !== null && typeof value === 'object') {
    const m = mask as Record<string, unknown>;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSensitive(v, m[k])]));
  }
  return value;
}

/** A JSON string's content as JavaScript writes it (quotes, backslashes and control characters escaped). */
const jsJsonEscape = (text: string): string => JSON.stringify(text).slice(1, -1);

/**
 * A JSON string's content as Go writes it (Terraform's jsonencode, the helm and kubernetes providers' errors):
 * as JavaScript, and also `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
 */
const goJsonEscape = (text: string): string =>
  jsJsonEscape(text).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * The base64 text that any encoding of `secret` contains, whatever bytes stand before and after it: for each of
 * the three alignments, the characters that encode only the secret's own bytes (too short a core would match
 * by chance, and is left out).
 */
export function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf-8');
  return [0, 1, 2]
    .map((pad) => {
      const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
      const fullGroups = Math.floor((pad + bytes.length) / 3);
      return encoded.slice(pad === 0 ? 0 : 4, fullGroups * 4);
    })
    .filter((core) => core.length >= 8);
}

/**
 * Every form in which a secret string can stand in text: as is; escaped inside JSON strings up to three levels
 * deep (a password inside jsonencode() inside a plan inside a log), each level as JavaScript or as Go escapes it;
 * URL-encoded; as a YAML single-quoted scalar; and base64-encoded at any alignment. Longest first, so a secret that
 * contains another is replaced whole.
 */
export function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    let level = [secret];
    for (let depth = 0; depth < 4; depth += 1) {
      for (const form of level) forms.add(form);
      level = [...new Set(level.flatMap((form) => [jsJsonEscape(form), goJsonEscape(form)]))];
    }
    forms.add(encodeURIComponent(secret));
    forms.add(secret.replace(/'/g, "''"));
    for (const core of base64Cores(secret)) forms.add(core);
  }
  return [...forms].filter((form) => form.length > 0).sort((a, b) => b.length - a.length);
}

/**
 * Replaces every occurrence of every secret form in a text. The forms are worked out once here, not per text: a plan
 * redacts every string and key it holds, and a command every line it prints.
 */
export function secretRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = secretForms(secrets);
  return (text) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
}

/** Replaces every occurrence of every secret form in a text. */
export function redactText(text: string, secrets: readonly string[]): string {
  return secretRedactor(secrets)(text);
}

function redactChange<T extends { before?: unknown; after?: unknown; after_unknown?: unknown; before_sensitive?: unknown; after_sensitive?: unknown }>(
  change: T,
): T {
  return {
    ...change,
    before: maskSensitive(change.before, change.before_sensitive),
    after: maskSensitive(change.after, change.after_sensitive),
  };
}

/**
 * The plan a reviewer sees: resource changes, drift and output changes with sensitive values masked, then any
 * known secret string replaced. Variables, configuration, prior state and planned values are dropped: they
 * repeat the same values, and root variables (the Helm credentials) appear there in clear.
 */
export function redactPlan(plan: TerraformPlan, secrets: readonly string[]): TerraformPlan {
  const kept: TerraformPlan = {
    format_version: plan.format_version,
    terraform_version: plan.terraform_version,
    applyable: plan.applyable,
    complete: plan.complete,
    errored: plan.errored,
    resource_changes: (plan.resource_changes ?? []).map((rc) => ({ ...rc, change: redactChange(rc.change) })),
    resource_drift: (plan.resource_drift ?? []).map((rc) => ({ ...rc, change: redactChange(rc.change) })),
    output_changes: Object.fromEntries(Object.entries(plan.output_changes ?? {}).map(([name, oc]) => [name, redactChange(oc)])),
  };
  return redactValues(kept, secrets) as TerraformPlan;
}

/**
 * Redacts every string (and key) of a JSON value except the change actions: a secret that happens to read
 * "delete" must not turn a destroy into something the risk check cannot see.
 */
export function redactValues(value: unknown, secrets: readonly string[]): unknown {
  const redact = secretRedactor(secrets);
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') return key === 'actions' ? v : redact(v);
    if (Array.isArray(v)) return v.map((item) => walk(item, key));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [redact(k), walk(inner, k)]));
    return v;
  };
  return walk(value);
}

/** `forget`: the resource leaves the Terraform state and stays in AWS (a detach-vpc run lists its addresses so). */
export type SummaryAction = 'create' | 'update' | 'replace' | 'delete' | 'forget';

export interface PlannedChange {
  readonly address: string;
  readonly action: SummaryAction;
}

export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  /** The HOWTO's line: "Plan: X to add, Y to change, Z to destroy." */
  readonly line: string;
  readonly hasChanges: boolean;
  readonly changes: readonly PlannedChange[];
  readonly replaced: readonly string[];
  readonly outputsChanged: readonly string[];
}

export function summaryAction(actions: readonly ChangeAction[]): SummaryAction | null {
  const has = (a: ChangeAction) => actions.includes(a);
  if (has('delete') && has('create')) return 'replace';
  if (has('create')) return 'create';
  if (has('delete')) return 'delete';
  if (has('update')) return 'update';
  // Terraform 1.7+ `removed` blocks: the resource leaves the state and stays in AWS. A change all the same.
  if (has('forget')) return 'forget';
  return null;
}

/** Counts the way Terraform does: a replacement is one to add and one to destroy. */
export function summarizePlan(plan: TerraformPlan): PlanSummary {
  let add = 0;
  let change = 0;
  let destroy = 0;
  let forget = 0;
  const changes: PlannedChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.mode === 'data') continue;
    const action = summaryAction(rc.change.actions);
    if (!action) continue;
    changes.push({ address: rc.address, action });
    if (action === 'create' || action === 'replace') add += 1;
    if (action === 'delete' || action === 'replace') destroy += 1;
    if (action === 'update') change += 1;
    if (action === 'forget') forget += 1;
  }
  const outputsChanged = Object.entries(plan.output_changes ?? {})
    .filter(([, oc]) => summaryAction(oc.actions) !== null)
    .map(([name]) => name);
  return {
    add,
    change,
    destroy,
    // Terraform names forgotten resources only when there are some.
    line: `Plan: ${add} to add, ${change} to change, ${destroy} to destroy${forget > 0 ? `, ${forget} to forget` : ''}.`,
    hasChanges: changes.length > 0 || outputsChanged.length > 0,
    changes,
    replaced: changes.filter((c) => c.action === 'replace').map((c) => c.address),
    outputsChanged,
  };
}

export type RiskLevel = 'none' | 'low' | 'medium' | 'high';

export interface RiskVerdict {
  readonly level: RiskLevel;
  readonly reasons: readonly string[];
}

/** What a gateway cannot lose without an outage: matched on the resource type or on the address. */
const CRITICAL: ReadonlyArray<{ readonly what: string; readonly type?: RegExp; readonly address: RegExp }> = [
  // Node groups first: their type and address also contain "eks".
  { what: 'node groups', type: /^aws_(eks_node_group|eks_fargate_profile|autoscaling_group|launch_template)$/, address: /node_?group/ },
  { what: 'Karpenter node pools', address: /karpenter|node_?pool/ },
  { what: 'the EKS cluster', type: /^aws_eks_(cluster|addon|access_entry)$/, address: /(^|[._])(eks|cluster)([._[]|$)/ },
  {
    what: 'the VPC or its subnets',
    type: /^aws_(vpc|vpc_endpoint|subnet|nat_gateway|internet_gateway|egress_only_internet_gateway|route|route_table|route_table_association|eip)$/,
    address: /(^|\.)module\.vpc\.|(^|[._])(vpc|subnet)s?([._[]|$)/,
  },
  { what: 'IAM', type: /^aws_iam_/, address: /(^|[._])iam([._]|$)/ },
];

/**
 * High: the plan destroys or replaces something on the critical list. Medium: it destroys or replaces anything
 * else. Low: only creates and in-place updates. None: nothing to do.
 */
export function assessRisk(summary: PlanSummary, plan: TerraformPlan): RiskVerdict {
  if (!summary.hasChanges) return { level: 'none', reasons: [] };
  const types = new Map((plan.resource_changes ?? []).map((rc) => [rc.address, rc.type]));
  const reasons: string[] = [];
  let level: RiskLevel = 'low';
  for (const c of summary.changes) {
    if (c.action !== 'delete' && c.action !== 'replace') continue;
    const type = types.get(c.address) ?? '';
    const hit = CRITICAL.find((rule) => (rule.type?.test(type) ?? false) || rule.address.test(c.address));
    const verb = c.action === 'delete' ? 'destroys' : 'replaces';
    if (hit) {
      level = 'high';
      reasons.push(`${verb} ${hit.what}: ${c.address}`);
    } else {
      if (level === 'low') level = 'medium';
      reasons.push(`${verb} ${c.address}`);
    }
  }
  return { level, reasons };
}
