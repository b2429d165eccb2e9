import * as z from 'zod';
import { InputError } from './errors';
import { formatIssues } from './issues';
import { bundleKeyFor, parseVersion, versionFromBundleKey } from './versions';

/**
 * The execution input an operator types in the Step Functions console (or the CLI sends). Strict: an unknown
 * field is refused rather than ignored, since a misspelt "allowDowngrade" must not silently do nothing.
 */
export const executionInputSchema = z
  .strictObject({
    /** The gateway module version to deploy; its bundle is `<releasesPrefix>gateway-<version>.zip`. */
    version: z.string().optional(),
    /** Or the bundle's S3 key in the artifacts bucket; the version is read from its name. */
    bundleKey: z.string().min(1).optional(),
    /** The sha256 of the zip as the vendor communicated it; the run stops if the bundle differs. */
    bundleSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters')
      .transform((s) => s.toLowerCase())
      .optional(),
    /** The agent image version the vendor communicated with the deliverables, checked after the apply. */
    expectedAgentVersion: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$/, 'must be an image tag such as 0.16.20').optional(),
    /** Deploy the version that is already deployed (for example after changing the configuration). */
    allowRedeploy: z.boolean().default(false),
    /** Deploy a version older than the deployed one. */
    allowDowngrade: z.boolean().default(false),
    /** Why this run was started; kept in the deployment history. */
    reason: z.string().max(500).optional(),
    /** Who started the run: the console, the operator CLI, or a bundle landing in S3. */
    trigger: z.enum(['console', 'cli', 's3']).default('console'),
  })
  .refine((i) => i.version !== undefined || i.bundleKey !== undefined, {
    message: 'give "version" (e.g. "0.8.1") or "bundleKey" (e.g. "releases/gateway-0.8.1.zip")',
  });

export type ExecutionInput = z.output<typeof executionInputSchema>;

export interface ResolvedInput extends ExecutionInput {
  readonly version: string;
  readonly bundleKey: string;
}

/** Validates the input and settles the bundle key and version, which must agree when both are given. */
export function resolveExecutionInput(raw: unknown, releasesPrefix: string): ResolvedInput {
  const parsed = executionInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(`execution input is invalid:\n${formatIssues(parsed.error.issues)}`);
  }
  const input = parsed.data;
  if (input.version !== undefined && !parseVersion(input.version)) {
    throw new InputError(`execution input is invalid:\n- version: "${input.version}" is not a semantic version such as 0.8.1`);
  }
  const fromKey = input.bundleKey === undefined ? undefined : versionFromBundleKey(input.bundleKey, releasesPrefix);
  if (fromKey !== undefined && input.version !== undefined && fromKey !== input.version) {
    throw new InputError(`execution input is invalid:\n- version: "${input.version}" does not match bundleKey "${input.bundleKey}" (${fromKey})`);
  }
  const version = (input.version ?? fromKey) as string;
  return { ...input, version, bundleKey: input.bundleKey ?? bundleKeyFor(version, releasesPrefix) };
}
