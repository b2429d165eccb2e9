import { EC2Client } from '@aws-sdk/client-ec2';
import { sharedClient } from '../aws';

// Re-exported so that ../subnets imports only this module dynamically: esbuild turns that import of a bundled
// module into a lazy require of the package. A dynamic import of the package itself would stay a native
// import(), which ignores NODE_PATH, where the Lambda runtime provides the AWS SDK.
export { DescribeSubnetsCommand } from '@aws-sdk/client-ec2';

/**
 * The EC2 client of the subnet check (../subnets). Imported there dynamically, only when the check runs, so the
 * (large) EC2 package is not loaded at any handler's cold start.
 */
export const ec2 = sharedClient(new EC2Client({}));
