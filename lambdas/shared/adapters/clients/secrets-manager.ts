import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sharedClient } from '../aws';

/** The handlers' Secrets Manager client (see ../aws). */
export const secretsManager = sharedClient(new SecretsManagerClient({}));
