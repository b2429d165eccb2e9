import type { z } from 'zod';

/**
 * One line per problem, each led by the path of the field, e.g. `module.aws_auth_roles[0].rolearn: must be an
 * IAM role ARN`. Only paths and messages are printed, never the value that was received, so the same
 * formatting is safe for the values secret.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.flatMap(describe).join('\n');
}

function describe(issue: z.core.$ZodIssue): string[] {
  const at = (path: readonly PropertyKey[]) => formatPath(path) || '(top level)';
  switch (issue.code) {
    // One line per unknown field, at its own path, so a misspelt key reads like any other wrong field.
    case 'unrecognized_keys':
      return issue.keys.map((key) => `- ${at([...issue.path, key])}: unknown field`);
    // zod reports a bad record key generically and nests the key schema's own explanation.
    case 'invalid_key':
      return [`- ${at(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`];
    default:
      return [`- ${at(issue.path)}: ${issue.message}`];
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    const name = String(part);
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? (out ? `${out}.${name}` : name) : `${out}[${JSON.stringify(name)}]`;
  }, '');
}
