import { dalBucketPolicies, dalBucketPolicy } from '../../lambdas/shared/domain/bucket-policy';

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
