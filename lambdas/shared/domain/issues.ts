import type { z } from 'zod';

/**
 * One line per problem, each led by the path of the field, e.g. `module.aws_auth_roles[0].rolearn: must be an
 * IAM role ARN`. Only paths and messages are printed, never the value that was received, so the same
 * formatting is safe for the values secret.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((issue) => `- ${formatPath(issue.path) || '(top level)'}: ${issue.message}`).join('\n');
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    const name = String(part);
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? (out ? `${out}.${name}` : name) : `${out}[${JSON.stringify(name)}]`;
  }, '');
}
