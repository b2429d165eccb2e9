import type { z } from 'zod';

/**
 * One line per problem, each led by the path of the field, e.g. `module.aws_auth_roles[0].rolearn: must be an
 * IAM role ARN`. Only paths and messages are printed, never the value that was received, so the same
 * formatting is safe for the values secret.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], knownFields: (path: readonly PropertyKey[]) => readonly string[] = () => []): string {
  return issues.flatMap((issue) => describe(issue, knownFields)).join('\n');
}

function describe(issue: z.core.$ZodIssue, knownFields: (path: readonly PropertyKey[]) => readonly string[]): string[] {
  const at = (path: readonly PropertyKey[]) => formatPath(path) || '(top level)';
  switch (issue.code) {
    // One line per unknown field, at its own path, so a misspelt key reads like any other wrong field; with the
    // closest allowed name when one is near (a typo, a different case).
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const near = closest(key, knownFields(issue.path));
        return `- ${at([...issue.path, key])}: unknown field${near ? ` — did you mean ${near}?` : ''}`;
      });
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

/** The known name nearest to `name` (case-insensitive edit distance at most a third of its length), or undefined. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const current = [i];
      for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
    return previous[b.length];
  };
  const scored = known.map((k) => ({ k, d: distance(name.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d);
  return scored[0] && scored[0].d <= Math.max(1, Math.floor(name.length / 3)) ? scored[0].k : undefined;
}
