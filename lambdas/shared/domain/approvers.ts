/**
 * Who may answer "Do you want to perform these actions?": the principals `approval.approvers` names. The caller's
 * identity is the ARN AWS verified for a signed request (the approval function URL's request context), never a name
 * the caller typed; this module only decides whether that ARN is one the config names.
 *
 * An entry is one of
 * - an IAM role ARN, `arn:aws:iam::<account>:role/<path/>Name`: anyone who assumed that role (SSO permission-set
 *   roles are IAM roles under `aws-reserved/sso.amazonaws.com/`);
 * - an IAM user ARN, `arn:aws:iam::<account>:user/<path/>Name`;
 * - one session of a role, `arn:aws:sts::<account>:assumed-role/Name/<session>`: one person of an SSO permission
 *   set, whose session name is their user name.
 * `*` in the name (or session) matches any characters, as in IAM's ArnLike. The account is never a wildcard.
 *
 * The caller's ARN for a role is its session ARN `arn:aws:sts::<account>:assumed-role/Name/<session>`, which has
 * no path: a role entry is matched by account and role name, its path is not compared.
 */

const ARN = /^arn:(aws|aws-cn|aws-us-gov):(iam|sts)::(\d{12}):(.+)$/;

export type PrincipalKind = 'role' | 'user' | 'session';

export interface Principal {
  readonly partition: string;
  readonly account: string;
  readonly kind: PrincipalKind;
  /** The role or user name (the last segment of the path). */
  readonly name: string;
  /** Only for kind session. */
  readonly session?: string;
}

/** Parses an approver entry or a caller ARN; null when it is neither a role, a user, nor a role session. */
export function principalOf(arn: string): Principal | null {
  const match = ARN.exec(arn);
  if (!match) return null;
  const [, partition, service, account, resource] = match;
  if (service === 'iam') {
    const m = /^(role|user)\/(?:[^/]+\/)*([^/]+)$/.exec(resource);
    if (!m) return null;
    return { partition, account, kind: m[1] as 'role' | 'user', name: m[2] };
  }
  const m = /^assumed-role\/([^/]+)\/([^/]+)$/.exec(resource);
  if (!m) return null;
  return { partition, account, kind: 'session', name: m[1], session: m[2] };
}

/** What is wrong with an approver entry, in words for the config error; null when it is fine. */
export function approverEntryProblem(entry: string): string | null {
  const principal = principalOf(entry);
  if (!principal) {
    return 'must be an IAM role ARN (arn:aws:iam::<account>:role/Name), an IAM user ARN (arn:aws:iam::<account>:user/Name) or a role session (arn:aws:sts::<account>:assumed-role/Name/<session>)';
  }
  if (/^\*+$/.test(principal.name)) return `names every ${principal.kind === 'user' ? 'user' : 'role'} of account ${principal.account}: name the role or user`;
  if (principal.kind === 'session' && /^\*+$/.test(principal.session ?? '')) return 'names every session of the role: give the role ARN instead';
  return null;
}

const glob = (pattern: string, value: string): boolean =>
  new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);

/**
 * The entry of `approvers` that admits the caller, or null. A role entry admits every session of that role; a user
 * entry that user; a session entry that session only.
 */
export function admittingEntry(callerArn: string, approvers: readonly string[]): string | null {
  const caller = principalOf(callerArn);
  if (!caller || caller.kind === 'role') return null; // a caller is a user or a role session, never a bare role
  for (const entry of approvers) {
    const allowed = principalOf(entry);
    if (!allowed || approverEntryProblem(entry) || allowed.partition !== caller.partition || allowed.account !== caller.account) continue;
    if (caller.kind === 'user' && allowed.kind === 'user' && glob(allowed.name, caller.name)) return entry;
    if (caller.kind === 'session' && allowed.kind === 'role' && glob(allowed.name, caller.name)) return entry;
    if (caller.kind === 'session' && allowed.kind === 'session' && glob(allowed.name, caller.name) && glob(allowed.session ?? '', caller.session ?? '')) return entry;
  }
  return null;
}

/**
 * The entries as `aws:PrincipalArn` patterns for a bucket policy: a role ARN (with any path), a user ARN. A
 * session entry becomes its role, since aws:PrincipalArn of an assumed role is the role's ARN.
 */
export function principalArnPatterns(entries: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of entries) {
    const p = principalOf(entry);
    if (!p) continue;
    const kind = p.kind === 'user' ? 'user' : 'role';
    out.add(`arn:${p.partition}:iam::${p.account}:${kind}/${p.name}`);
    out.add(`arn:${p.partition}:iam::${p.account}:${kind}/*/${p.name}`);
  }
  return [...out];
}
