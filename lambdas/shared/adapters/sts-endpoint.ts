import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';

/** The regional STS endpoint as the SDK resolves it (AWS_ENDPOINT_URL included, for an emulator). */
export async function stsEndpoint(region: string): Promise<URL> {
  const client = new STSClient({ region });
  try {
    const endpoint = await getEndpointFromInstructions({}, GetCallerIdentityCommand, client.config);
    return new URL(endpoint.url.href);
  } finally {
    client.destroy();
  }
}
