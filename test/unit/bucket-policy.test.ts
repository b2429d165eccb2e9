import { dalAccessReport, dalBucketPolicies, dalBucketPolicy } from '../../lambdas/shared/domain/bucket-policy';

const ROLE = 'arn:aws:iam::123456789012:role/gateway-dal';

test("the seed's example policy: the DAL role may list the bucket and read its objects", () => {
  expect(dalBucketPolicy(ROLE, 'example-bucket')).toEqual({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: [ROLE] },
        Action: ['s3:ListBucket', 's3:GetObject'],
        Resource: ['arn:aws:s3:::example-bucket', 'arn:aws:s3:::example-bucket/*'],
      },
    ],
  });
});

test('one policy per additional data bucket', () => {
  expect(Object.keys(dalBucketPolicies(ROLE, ['a-bucket', 'b-bucket']))).toEqual(['a-bucket', 'b-bucket']);
});

test.each([undefined, '', 42])('no DAL role output (%p): no policies rather than a wrong principal', (role) => {
  expect(dalBucketPolicies(role, ['a-bucket'])).toEqual({});
});

test('what a build stores: the configured buckets, and a policy for each when there is a DAL role', () => {
  expect(dalAccessReport(ROLE, ['a-bucket'])).toEqual({ dataBuckets: ['a-bucket'], dataBucketPolicies: { 'a-bucket': dalBucketPolicy(ROLE, 'a-bucket') } });
  // The buckets are kept without a role: "buckets, but no DAL role" is not "no buckets".
  expect(dalAccessReport(undefined, ['a-bucket'])).toEqual({ dataBuckets: ['a-bucket'], dataBucketPolicies: {} });
});
