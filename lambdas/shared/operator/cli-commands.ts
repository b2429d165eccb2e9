import type { z } from 'zod';
import { deployerStackName } from '../../../lib/config';
import { executionInputSchema } from '../domain/execution-input';
import { formatPath } from '../domain/issues';
import { parseVersion } from '../domain/versions';
import { compactTimestamp } from './text-format';
import type { LockHolder } from '../domain/lock';

/**
 * The pure part of the operator CLI's `start`, `status` and `history` (and of how every command finds the
 * deployed stack): which gateway and stack, what an AWS failure means to an operator, which outputs the stack
 * must have, the execution input and name. The AWS calls are ports (see commands.ts); nothing here does I/O.
 */

/** A failure the operator can act on: printed as `error: <message>`, the process exits with `exitCode`. */
export class OperatorError extends Error {
  /** 1: refused or invalid request; 2: the environment is not ready (credentials, region, stack). */
  readonly exitCode: 1 | 2;

  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'OperatorError';
    this.exitCode = exitCode;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Which gateway, stack and region

export interface TargetOptions {
  readonly gateway?: string;
  readonly stack?: string;
  readonly region?: string;
}

/** What the CLI needs from the gateway config; `region` only when the config came from a file. */
export interface ConfigFacts {
  readonly gatewayName: string;
  readonly region?: string;
}

export interface Target {
  readonly gateway: string;
  readonly stack: string;
  /** Undefined: the SDK's own chain decides (AWS_REGION, the profile's region). */
  readonly region?: string;
}

/**
 * `--gateway` defaults to the config's gatewayName, `--stack` to the name bin/app.ts gives that gateway's stack,
 * `--region` to the config's target.region (the stack is pinned there) and then to the AWS configuration. The
 * config is read only when one of them is missing.
 */
export function resolveTarget(opts: TargetOptions, config: () => ConfigFacts): Target {
  let facts: ConfigFacts | undefined;
  const cfg = () => (facts ??= config());
  const gateway = opts.gateway ?? cfg().gatewayName;
  const stack = opts.stack ?? deployerStackName(gateway);
  const region = opts.region ?? cfg().region;
  return { gateway, stack, ...(region ? { region } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// AWS failures, in the operator's words

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'CredentialsError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
  'AuthFailure',
]);

export const CREDENTIALS_HELP =
  'provide AWS credentials for the account the gateway runs in: AWS_PROFILE=<profile> (after `aws sso login --profile <profile>` for SSO), ' +
  'or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment';

const nameOf = (error: unknown) => (error as { name?: string })?.name ?? '';
const messageOf = (error: unknown) => (error as { message?: string })?.message ?? String(error);

export function isCredentialsError(error: unknown): boolean {
  return CREDENTIAL_ERRORS.has(nameOf(error)) || /could not load credentials|security token included in the request is (invalid|expired)|sso session .* expired/i.test(messageOf(error));
}

export function isRegionMissing(error: unknown): boolean {
  return /region is missing/i.test(messageOf(error));
}

export const REGION_HELP = 'no AWS region: pass --region, --config <gateway config> (its target.region), or set AWS_REGION';

/** Node's codes for an AWS endpoint the machine could not reach (the SDK retried them already). */
const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export function isUnreachable(error: unknown): string | undefined {
  const code = (error as { code?: string })?.code ?? /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b/.exec(messageOf(error))?.[1];
  return code && NETWORK_CODES.has(code) ? code : undefined;
}

/**
 * The failures every command can meet, as OperatorErrors (exit 2); anything else is returned unchanged.
 * `stack`/`region` describe the DescribeStacks call, for the "not found" message.
 */
export function explainAwsError(error: unknown, where?: { stack?: string; region?: string }): unknown {
  if (error instanceof OperatorError) return error;
  if (isCredentialsError(error)) return new OperatorError(`no usable AWS credentials (${nameOf(error) || 'error'}: ${messageOf(error)}); ${CREDENTIALS_HELP}`, 2);
  if (isRegionMissing(error)) return new OperatorError(REGION_HELP, 2);
  const unreachable = isUnreachable(error);
  if (unreachable) {
    const host = /(?:getaddrinfo \w+|connect \w+) ([^\s]+)/.exec(messageOf(error))?.[1];
    return new OperatorError(
      `cannot reach AWS${host ? ` (${host})` : ''}: ${unreachable}. Check the network or proxy (HTTPS_PROXY), and the region (${where?.region ?? '--region or AWS_REGION'})`,
      2,
    );
  }
  if (where?.stack !== undefined && nameOf(error) === 'ValidationError' && /does not exist/i.test(messageOf(error))) {
    return new OperatorError(`stack ${where.stack} not found in ${where.region ?? 'the configured region'}: deploy it first with \`npx cdk deploy\` (or pass --stack, --gateway or --region)`, 2);
  }
  if (where?.stack !== undefined && /AccessDenied/i.test(nameOf(error))) {
    return new OperatorError(`not allowed to read stack ${where.stack} (cloudformation:DescribeStacks): ${messageOf(error)}`, 2);
  }
  return error;
}

// ---------------------------------------------------------------------------------------------------------------
// The stack's outputs

export type OutputKey = 'StateMachineArn' | 'DeploymentsTableName' | 'ArtifactsBucketName' | 'ApprovalFunctionName' | 'SupportTopicArn' | 'OperatorsTopicArn';

export interface StackOutput {
  readonly OutputKey?: string;
  readonly OutputValue?: string;
}

/** The outputs the command needs, every missing one named at once. */
export function requireOutputs<K extends OutputKey>(outputs: readonly StackOutput[], stack: string, required: readonly K[]): Record<K, string> & Partial<Record<OutputKey, string>> {
  const found: Partial<Record<string, string>> = {};
  for (const o of outputs) if (o.OutputKey && o.OutputValue) found[o.OutputKey] = o.OutputValue;
  const missing = required.filter((k) => !found[k]);
  if (missing.length > 0) {
    throw new OperatorError(
      `stack ${stack} has no output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: is it a gateway deployer stack, deployed by this version of the deployer?`,
      2,
    );
  }
  return found as Record<K, string> & Partial<Record<OutputKey, string>>;
}

// ---------------------------------------------------------------------------------------------------------------
// start: the input, its validation, the name

export const START_OPERATIONS = ['deploy', 'detach-vpc', 'drift-check'] as const;
export type StartOperation = (typeof START_OPERATIONS)[number];

export interface StartOptions {
  readonly version?: string;
  readonly bundleKey?: string;
  readonly expectedAgentVersion?: string;
  readonly reason?: string;
  readonly sha256?: string;
  readonly allowRedeploy?: boolean;
  readonly allowDowngrade?: boolean;
  readonly operation?: StartOperation;
  /** `--input`: the whole execution input as typed in the console, instead of the flags above. */
  readonly input?: Record<string, unknown>;
}

/**
 * The execution input as the state machine takes it (execution-input.ts), `trigger: "cli"`. Flags left off are
 * left out, so the input shows only what the operator asked for; `operation` only when it is not a deploy.
 */
export function buildStartInput(o: StartOptions): Record<string, unknown> {
  if (o.input) {
    const { trigger, ...rest } = o.input;
    if (trigger !== undefined && trigger !== 'cli') {
      throw new OperatorError(`--input: trigger ${JSON.stringify(trigger)} is not for an operator to set; leave it out (the CLI sets "cli")`, 2);
    }
    return { ...rest, trigger: 'cli' };
  }
  const operation = o.operation ?? 'deploy';
  if (!START_OPERATIONS.includes(operation)) throw new OperatorError(`--operation must be one of ${START_OPERATIONS.join(', ')}`);
  const reason = o.reason?.trim();
  return {
    ...(operation !== 'deploy' ? { operation } : {}),
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.bundleKey !== undefined ? { bundleKey: o.bundleKey } : {}),
    ...(o.sha256 !== undefined ? { bundleSha256: o.sha256 } : {}),
    ...(o.expectedAgentVersion !== undefined ? { expectedAgentVersion: o.expectedAgentVersion } : {}),
    ...(o.allowRedeploy ? { allowRedeploy: true } : {}),
    ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(reason ? { reason } : {}),
    trigger: 'cli',
  };
}

/** The CLI flag behind each input field, so a refusal names what the operator typed. */
const FLAG_OF: Record<string, string> = {
  operation: '--operation',
  version: '--version',
  bundleKey: '--bundle-key',
  bundleSha256: '--sha256',
  expectedAgentVersion: '--expected-agent-version',
  allowRedeploy: '--allow-redeploy',
  allowDowngrade: '--allow-downgrade',
  reason: '--reason',
};

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = (path: readonly PropertyKey[]) => {
    const field = formatPath(path);
    const flag = FLAG_OF[String(path[0])];
    return flag ? `${flag} (${field})` : field || '(input)';
  };
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `- ${at([...issue.path, k])}: unknown field`);
  return [`- ${at(issue.path)}: ${issue.message}`];
}

type SafeParser = { safeParse(input: unknown): { success: true } | { success: false; error: { issues: z.core.$ZodIssue[] } } };

/** True when the schema's only complaint about `operation` is that it does not know the field. */
const unknownOperation = (issues: readonly z.core.$ZodIssue[]) => issues.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0 && i.keys.includes('operation'));

/**
 * Checks the input with the state machine's own schema before anything is started. A schema that does not know
 * `operation` yet is asked about the other fields only, and for another operation than deploy its whole-input
 * rules (a deploy needs a version) are left to the run, which knows the operation.
 */
export function validateStartInput(input: Record<string, unknown>, schema: SafeParser = executionInputSchema): void {
  const problems: string[] = [];
  const operation = (input.operation as string | undefined) ?? 'deploy';
  if (operation === 'deploy' && input.version === undefined && input.bundleKey === undefined) {
    throw new OperatorError('give the bundle to deploy: --version <semver> (e.g. 0.8.1) or --bundle-key <s3 key> (e.g. releases/gateway-0.8.1.zip)');
  }
  let result = schema.safeParse(input);
  let issues = result.success ? [] : result.error.issues;
  if (!result.success && 'operation' in input && unknownOperation(issues)) {
    const rest = { ...input };
    delete rest.operation;
    result = schema.safeParse(rest);
    issues = result.success ? [] : result.error.issues.filter((i) => !(operation !== 'deploy' && i.path.length === 0 && i.code === 'custom'));
  }
  problems.push(...issues.flatMap(describeIssue));

  const version = typeof input.version === 'string' ? input.version : undefined;
  if (version !== undefined && !parseVersion(version)) problems.push(`- --version (version): "${version}" is not a semantic version such as 0.8.1`);
  const bundleKey = typeof input.bundleKey === 'string' ? input.bundleKey : undefined;
  if (bundleKey) {
    const fromKey = versionInBundleKey(bundleKey);
    if (fromKey === undefined) problems.push(`- --bundle-key (bundleKey): "${bundleKey}" is not named gateway-<version>.zip`);
    else if (version !== undefined && fromKey !== version) problems.push(`- --version (version): "${version}" does not match --bundle-key "${bundleKey}" (${fromKey})`);
  }
  if (problems.length > 0) throw new OperatorError(`execution input is invalid:\n${[...new Set(problems)].join('\n')}`);
}

/** The version in `…/gateway-<semver>.zip`; the releases prefix is checked by Preflight, which knows it. */
export function versionInBundleKey(key: string): string | undefined {
  const m = /(?:^|\/)gateway-([^/]+)\.zip$/.exec(key);
  return m && parseVersion(m[1]) ? m[1] : undefined;
}

/** Step Functions names: 1-80 characters of letters, digits, `-` and `_`. */
export const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * `cli-0-9-0-20240601093000`, `cli-drift-check-20240601093000`: who started it, what, and when (UTC, to the
 * second), so the console's list reads like a log. Dots and other characters Step Functions refuses become `-`.
 */
export function executionNameFor(input: Record<string, unknown>, now: Date): string {
  const operation = typeof input.operation === 'string' && input.operation !== 'deploy' ? input.operation : undefined;
  const bundleKey = typeof input.bundleKey === 'string' ? input.bundleKey : undefined;
  const what =
    (typeof input.version === 'string' ? input.version : undefined) ??
    (bundleKey ? (versionInBundleKey(bundleKey) ?? bundleKey.slice(bundleKey.lastIndexOf('/') + 1).replace(/\.zip$/i, '')) : undefined);
  const stamp = compactTimestamp(now);
  const slug = ['cli', operation, what]
    .filter((p): p is string => Boolean(p))
    .join('-')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/-$/, '');
  return `${slug.slice(0, 80 - stamp.length - 1).replace(/-$/, '')}-${stamp}`;
}

/** The execution's page in the Step Functions console. */
export function consoleUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The lock

/** The item `GATEWAY#<gateway>` / `LOCK` that the running deployment holds (written by AcquireLock). */
export type LockItem = LockHolder;

/**
 * Whether `start` must refuse: only while the holder runs. A lock left by a stopped run is taken over by the
 * next run's AcquireLock, so it does not block here either. (The state machine's lock is the real guard; this
 * only saves a run that would stop at AcquireLock.)
 */
export function lockRefusal(lock: LockItem | null, holderStatus: string | undefined): OperatorError | null {
  if (!lock || holderStatus !== 'RUNNING') return null;
  return new OperatorError(
    `deployment in progress: ${lock.executionArn} (holds the lock since ${lock.acquiredAt || 'an unknown time'}); follow it with \`npx gateway-deployer status --watch\``,
    1,
  );
}

/** Parses a count or interval flag: a whole number in [min, max]. */
export function parseWholeNumber(text: string, flag: string, min: number, max: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new OperatorError(`${flag} must be a whole number from ${min} to ${max}, not "${text}"`);
  return n;
}

/**
 * Which gateway config the CLI reads, as `cdk deploy` would: `--config`, then GATEWAY_CONFIG, then a
 * `gatewayConfig` in cdk.json's context; none: the built-in example.
 */
export function chooseConfigPath(sources: { flag?: string; env?: string; cdkJson?: unknown }): string | undefined {
  const fromCdkJson = (sources.cdkJson as { context?: { gatewayConfig?: unknown } } | undefined)?.context?.gatewayConfig;
  return sources.flag || sources.env || (typeof fromCdkJson === 'string' && fromCdkJson ? fromCdkJson : undefined);
}
