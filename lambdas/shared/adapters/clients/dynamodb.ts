import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sharedClient } from '../aws';

/** The handlers' DynamoDB client (see ../aws). */
export const dynamodb = sharedClient(new DynamoDBClient({}));
