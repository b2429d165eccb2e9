import { SFNClient } from '@aws-sdk/client-sfn';
import { sharedClient } from '../aws';

/** The handlers' Step Functions client (see ../aws). */
export const sfn = sharedClient(new SFNClient({}));
