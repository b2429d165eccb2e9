import { SNSClient } from '@aws-sdk/client-sns';
import { sharedClient } from '../aws';

/** The handlers' SNS client (see ../aws). */
export const sns = sharedClient(new SNSClient({}));
