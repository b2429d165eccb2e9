import './zod-locale';
import * as z from 'zod/mini';
import { InputError } from './errors';
import { formatIssues } from './issues';
import { bundleKeyFor, parseVersion, versionFromBundleKey } from './versions';

/**
 * What a run does. `deploy` installs or upgrades (the default); the others work on the gateway that is already
 * deployed, with the bundle of the deployed version:
 * - `detach-vpc`: the HOWTO's FAQ "Can I manage the AWS VPC setup?": `terraform state rm` of every `module.vpc`
 *   resource, after an operator approved the list, so Terraform no longer manages (or destroys) the VPC.
 * - `drift-check`: a plan of the deployed version and configuration, to see what changed outside Terraform.
 */
export const OPERATIONS = ['deploy', 'detach-vpc', 'drift-check'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Fields that only mean something to a deploy; the other operations refuse them rather than ignore them. */
const DEPLOY_ONLY: Readonly<Record<Exclude<Operation, 'deploy'>, readonly string[]>> = {
  // Nothing is applied and nothing is redeployed: no version decision to relax, no agent to compare.
  'detach-vpc': ['allowRedeploy', 'allowDowngrade', 'expectedAgentVersion'],
  // A drift check plans the deployed version again; the running agent may still be compared with the expected one.
  'drift-check': ['allowRedeploy', 'allowDowngrade'],
};

/**
 * The execution input an operator types in the Step Functions console (or the CLI sends). Strict: an unknown
 * field is refused rather than ignored, since a misspelt "allowDowngrade" must not silently do nothing; so is a
 * field the chosen operation would ignore.
 */
export const executionInputSchema = z.pipe(
  z
    .strictObject({
      /** What the run does; see OPERATIONS. */
      operation: z._default(z.enum(OPERATIONS), 'deploy'),
      /**
       * The gateway module version to deploy; its bundle is `<releasesPrefix>gateway-<version>.zip`. Optional for
       * detach-vpc and drift-check, which use the deployed version (and, if given, it must be that version).
       */
      version: z.optional(z.string()),
      /** Or the bundle's S3 key in the artifacts bucket; the version is read from its name. */
      bundleKey: z.optional(z.string().check(z.minLength(1))),
      /** The sha256 of the zip as the vendor communicated it; the run stops if the bundle differs. */
      bundleSha256: z.optional(
        z.pipe(
          z.string().check(z.regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters')),
          z.transform((s) => s.toLowerCase()),
        ),
      ),
      /** The agent image version the vendor communicated with the deliverables, checked after the apply. */
      expectedAgentVersion: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}$/, 'must be an image tag such as 0.16.20'))),
      /** Deploy the version that is already deployed (for example after changing the configuration). */
      allowRedeploy: z.optional(z.boolean()),
      /** Deploy a version older than the deployed one. */
      allowDowngrade: z.optional(z.boolean()),
      /** Why this run was started; kept in the deployment history. */
      reason: z.optional(z.string().check(z.maxLength(500))),
      /** Who started the run: the console, the operator CLI, a bundle landing in S3, or the drift schedule. */
      trigger: z._default(z.enum(['console', 'cli', 's3', 'schedule']), 'console'),
    })
    .check(
      z.superRefine((i, ctx) => {
        // The automatic triggers start one operation each: a bundle upload a deploy, the schedule a drift check.
        if (i.trigger === 'schedule' && i.operation !== 'drift-check') {
          ctx.addIssue({ code: 'custom', path: ['trigger'], message: `"schedule" is for drift checks started by the drift schedule, not for operation "${i.operation}"` });
        }
        if (i.operation === 'deploy') {
          if (i.version === undefined && i.bundleKey === undefined) {
            ctx.addIssue({ code: 'custom', path: [], message: 'give "version" (e.g. "0.8.1") or "bundleKey" (e.g. "releases/gateway-0.8.1.zip")' });
          }
          return;
        }
        for (const field of DEPLOY_ONLY[i.operation]) {
          if (i[field as keyof typeof i] !== undefined) {
            ctx.addIssue({ code: 'custom', path: [field], message: `means nothing to operation "${i.operation}", which works on the deployed version; leave it out` });
          }
        }
        if (i.trigger === 's3') {
          ctx.addIssue({ code: 'custom', path: ['trigger'], message: `"s3" is for deploys started by a bundle upload, not for operation "${i.operation}"` });
        }
      }),
    ),
  z.transform(({ allowRedeploy, allowDowngrade, ...rest }) => ({ ...rest, allowRedeploy: allowRedeploy ?? false, allowDowngrade: allowDowngrade ?? false })),
);

export type ExecutionInput = z.output<typeof executionInputSchema>;

/** A deploy always knows its version and bundle. */
export interface ResolvedDeployInput extends ExecutionInput {
  readonly operation: 'deploy';
  readonly version: string;
  readonly bundleKey: string;
}

/** The other operations use the deployed version; a version or bundle key given in the input must name it. */
export interface ResolvedMaintenanceInput extends ExecutionInput {
  readonly operation: Exclude<Operation, 'deploy'>;
  readonly version?: string;
  readonly bundleKey?: string;
}

export type ResolvedInput = ResolvedDeployInput | ResolvedMaintenanceInput;

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
  const version = input.version ?? fromKey;
  if (input.operation !== 'deploy') {
    const operation = input.operation;
    if (version === undefined) return { ...input, operation };
    return { ...input, operation, version, bundleKey: input.bundleKey ?? bundleKeyFor(version, releasesPrefix) };
  }
  // The schema refused a deploy with neither version nor bundle key.
  return { ...input, operation: 'deploy', version: version as string, bundleKey: input.bundleKey ?? bundleKeyFor(version as string, releasesPrefix) };
}
