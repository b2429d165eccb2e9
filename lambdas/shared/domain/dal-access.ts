import { isDeepStrictEqual } from 'node:util';
import { exportedVariables } from './build-result';
import { dalBucketPolicy } from './bucket-policy';
import type { RunState } from './run-state';

/**
 * The HOWTO's "Enabling access to external AWS S3 buckets", told to operators: after a deployment they attach a
 * bucket policy naming the gateway's DAL role (module output dal_role_arn) to each bucket of
 * module.additional_data_buckets. The builds compute the policies (bucket-policy.ts) and store them in the Apply
 * report, or in the Plan's outputs.json when there was nothing to apply; the success notice and
 * `npx gateway-deployer dal-policy` read them from there. What is shown is the stored policy itself, never one made
 * again here; it is shown only when it is exactly the HOWTO's policy for that bucket and role (list the bucket, read
 * its objects), so a report that was altered, or a role output that is not an IAM role ARN, shows no policy at all.
 */

/** The config's rule for module.additional_data_buckets (gateway-config.ts): also safe on a shell command line. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** An IAM role ARN (any partition, optional path). A redacted value, "(redacted)", is not one. */
const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

export interface DalBucketPolicy {
  readonly bucket: string;
  readonly policy: object;
}

export type DalAccess =
  /** The config lists no external data buckets: nothing to attach. */
  | { readonly kind: 'no-buckets'; readonly dalRoleArn: string | null }
  | { readonly kind: 'policies'; readonly dalRoleArn: string; readonly buckets: readonly DalBucketPolicy[] }
  /** Buckets are configured, but no policy can be shown: `reason` says why, in an operator's words. */
  | { readonly kind: 'unavailable'; readonly buckets: readonly string[]; readonly reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The DAL access a build's report (apply.json, or the Plan's outputs.json) tells, or null when it tells nothing about
 * it (a report of a deployer older than the DAL policies, or an older Apply report without `dataBuckets` whose empty
 * policies cannot tell "no buckets" from "no DAL role").
 */
export function dalAccessOf(report: unknown): DalAccess | null {
  if (!isRecord(report)) return null;
  const outputs = isRecord(report.outputs) ? report.outputs : {};
  const role = outputs.dal_role_arn;
  const roleArn = typeof role === 'string' && ROLE_ARN.test(role) ? role : null;
  const policies = isRecord(report.dataBucketPolicies) ? report.dataBucketPolicies : undefined;
  let listed: unknown[];
  if (Array.isArray(report.dataBuckets)) listed = report.dataBuckets;
  // An older Apply report: with a DAL role, it holds one policy per bucket.
  else if (policies && (Object.keys(policies).length > 0 || roleArn)) listed = Object.keys(policies);
  else return null;

  const buckets = [...new Set(listed.filter((b): b is string => typeof b === 'string' && BUCKET_NAME.test(b)))];
  if (listed.length === 0) return { kind: 'no-buckets', dalRoleArn: roleArn };
  const unavailable = (reason: string): DalAccess => ({ kind: 'unavailable', buckets, reason });
  if (buckets.length !== new Set(listed).size) return unavailable('the report names a bucket that is not an S3 bucket name');
  if (typeof role !== 'string' || !role) {
    return unavailable('the gateway module gave no dal_role_arn output (or a sensitive one), so no policy names the DAL role; ask your Apheris representative for it');
  }
  // The value is not repeated: whatever it holds, it is not a role to grant access to.
  if (!roleArn) return unavailable("the gateway module's dal_role_arn output is not an IAM role ARN");
  const out: DalBucketPolicy[] = [];
  for (const bucket of buckets) {
    const policy = policies?.[bucket];
    if (!isRecord(policy)) return unavailable(`no policy was stored for bucket ${bucket}`);
    if (!isDeepStrictEqual(policy, dalBucketPolicy(roleArn, bucket))) {
      return unavailable(`the policy stored for bucket ${bucket} is not the HOWTO's (the DAL role may only list the bucket and read its objects), so none is shown`);
    }
    out.push({ bucket, policy });
  }
  return { kind: 'policies', dalRoleArn: roleArn, buckets: out };
}

/** The file the commands below name: one per bucket. */
export const policyFile = (bucket: string): string => `dal-policy-${bucket}.json`;

/** The HOWTO's command, with the file that holds the policy. */
export const putBucketPolicyCommand = (bucket: string): string => `aws s3api put-bucket-policy --bucket ${bucket} --policy file://${policyFile(bucket)}`;

/** The policy as it goes into the file: the stored object, pretty-printed. */
export const policyJson = (policy: object): string => JSON.stringify(policy, null, 2);

/** The CLI command that prints them again (the notice names it). */
export const DAL_POLICY_COMMAND = 'npx gateway-deployer dal-policy --config <gateway config>';

/** The HOWTO's caveat: put-bucket-policy replaces the bucket's policy. */
export const MERGE_CAVEAT = [
  'put-bucket-policy REPLACES the bucket\'s whole policy: if the bucket already has one',
  '(aws s3api get-bucket-policy --bucket <bucket>), add the statement to it instead.',
];

/**
 * The DAL part of a notice. The whole message must stay below SNS's 256 KB (262,144 bytes); the rest of the success
 * notice is a few KB. The policies are given in full while this part fits 32 KiB (about 60 buckets: each is ~450
 * bytes), which keeps the mail readable; beyond, one put-bucket-policy command per bucket (as many as fit) and where
 * the full policies are.
 */
export const DAL_NOTICE_MAX_BYTES = 32 * 1024;

export interface DalNoticeOptions {
  /** Where the build stored the policies: s3://<artifacts bucket>/<report key>. */
  readonly sourceUrl: string;
  /** The run applied nothing: the role and policies come from its plan's outputs. */
  readonly fromPlan?: boolean;
  /** Tests: a smaller budget. */
  readonly maxBytes?: number;
}

const bytes = (lines: readonly string[]) => Buffer.byteLength(lines.join('\n'), 'utf-8');

/** Lines for the operators' success notice (no blank line at either end); none when the config lists no external bucket or the report says nothing. */
export function dalAccessLines(access: DalAccess | null, o: DalNoticeOptions): string[] {
  if (!access || access.kind === 'no-buckets') return [];
  if (access.kind === 'unavailable') {
    return [
      `External data buckets (module.additional_data_buckets): ${access.buckets.join(', ') || '(none valid)'}.`,
      `No bucket policy can be given for them: ${access.reason}. Report: ${o.sourceUrl}`,
    ];
  }
  const max = o.maxBytes ?? DAL_NOTICE_MAX_BYTES;
  const head = [
    `External data buckets: attach each bucket's policy below (the HOWTO's "Enabling access to external AWS S3 buckets").`,
    `DAL role: ${access.dalRoleArn} (each policy lets it list the bucket and read its objects, nothing else)`,
    ...(o.fromPlan ? ["Nothing was applied in this run: these are the deployed gateway's role and policies, from the plan's outputs."] : []),
    ...MERGE_CAVEAT,
    `To print them again: ${DAL_POLICY_COMMAND} (--bucket <bucket> prints one policy, for its file).`,
    '',
  ];
  const full = access.buckets.flatMap(({ bucket, policy }, i) => [...(i > 0 ? [''] : []), `Bucket ${bucket}: ${putBucketPolicyCommand(bucket)}`, `${policyFile(bucket)}:`, ...policyJson(policy).split('\n')]);
  if (bytes([...head, ...full]) <= max) return [...head, ...full];

  const short = [
    ...head.slice(0, -2),
    `The ${access.buckets.length} policies are too long for this mail. They are in ${o.sourceUrl} (dataBucketPolicies);`,
    `${DAL_POLICY_COMMAND} --bucket <bucket> > dal-policy-<bucket>.json writes each file. Then:`,
  ];
  const more = (n: number) => `  … and ${n} more (${DAL_POLICY_COMMAND} lists them all)`;
  const commands: string[] = [];
  for (const [i, { bucket }] of access.buckets.entries()) {
    const line = `  ${putBucketPolicyCommand(bucket)}`;
    // Room is kept for the "… and n more" line (n at most the number of buckets).
    const last = i === access.buckets.length - 1;
    if (bytes([...short, ...commands, line, ...(last ? [] : [more(access.buckets.length)])]) > max) {
      commands.push(more(access.buckets.length - i));
      break;
    }
    commands.push(line);
  }
  return [...short, ...commands];
}

/**
 * Where a successful run's build stored the DAL policies: the Apply report, or, when the plan had no changes, the
 * Plan's outputs.json (the module's outputs as they stand, with the policies the Plan build made from them). Null
 * when the run's results name neither (an operation other than a deploy, or results of an older deployer).
 */
export function dalReportKey(state: RunState, gateway: string): { key: string; fromPlan: boolean } | null {
  const applyKey = exportedVariables(state.apply).APPLY_REPORT_KEY;
  if (state.apply !== undefined) return applyKey?.startsWith(`reports/${gateway}/`) ? { key: applyKey, fromPlan: false } : null;
  const planPrefix = exportedVariables(state.plan).PLAN_PREFIX;
  if (state.analysis?.decision === 'no-changes' && planPrefix?.startsWith(`plans/${gateway}/`) && planPrefix.endsWith('/')) {
    return { key: `${planPrefix}outputs.json`, fromPlan: true };
  }
  return null;
}
