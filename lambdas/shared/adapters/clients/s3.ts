import { S3Client } from '@aws-sdk/client-s3';
import { emulated, sharedClient } from '../aws';

/** The handlers' S3 client; path-style under a local emulator (see ../aws). */
export const s3 = sharedClient(new S3Client({ forcePathStyle: emulated() }));
