/**
 * The HOWTO's "Enabling access to external AWS S3 buckets": the bucket policy an operator attaches to each
 * additional data bucket, with the gateway's real DAL role as principal (module output dal_role_arn).
 */
export function dalBucketPolicy(dalRoleArn: string, bucket: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: [dalRoleArn] },
        Action: ['s3:ListBucket', 's3:GetObject'],
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
}

/** One policy per bucket, or none when the module gave no DAL role. */
export function dalBucketPolicies(dalRoleArn: unknown, buckets: readonly string[]): Record<string, object> {
  if (typeof dalRoleArn !== 'string' || !dalRoleArn) return {};
  return Object.fromEntries(buckets.map((bucket) => [bucket, dalBucketPolicy(dalRoleArn, bucket)]));
}

/**
 * What a build stores about DAL access (the Apply report; the Plan's outputs.json, for a run with nothing to apply):
 * the configured buckets and the policy made for each. `dataBuckets` lets a reader tell "no external buckets" from
 * "buckets, but no DAL role to name" (then `dataBucketPolicies` is empty).
 */
export interface DalAccessReport {
  readonly dataBuckets: string[];
  readonly dataBucketPolicies: Record<string, object>;
}

export function dalAccessReport(dalRoleArn: unknown, buckets: readonly string[]): DalAccessReport {
  return { dataBuckets: [...buckets], dataBucketPolicies: dalBucketPolicies(dalRoleArn, buckets) };
}
