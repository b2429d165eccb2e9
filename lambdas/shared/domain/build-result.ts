/**
 * What a CodeBuild `.sync` task hands back: the build's exported variables as a Name/Value list. The state
 * machine keeps only that list and the build id, so the history stays small and secret-free.
 */
export interface BuildResult {
  readonly buildId?: string;
  readonly exported?: ReadonlyArray<{ readonly Name?: string; readonly Value?: string }>;
}

export function exportedVariables(result: BuildResult | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of result?.exported ?? []) if (v.Name) out[v.Name] = v.Value ?? '';
  return out;
}

export function requireExported(result: BuildResult | undefined, name: string, step: string): string {
  const value = exportedVariables(result)[name];
  if (!value) throw new Error(`the ${step} build did not export ${name}; see its log (build ${result?.buildId ?? 'unknown'})`);
  return value;
}
