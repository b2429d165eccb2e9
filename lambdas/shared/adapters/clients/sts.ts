import { STSClient } from '@aws-sdk/client-sts';
import { sharedClient } from '../aws';

/** The handlers' STS client (see ../aws). */
export const sts = sharedClient(new STSClient({}));
