import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { env, isNotFound } from '../shared/adapters/aws';
import { s3 } from '../shared/adapters/clients/s3';
import { logger } from '../shared/adapters/logger';
import { exportedVariables, type BuildResult } from '../shared/domain/build-result';
import { decideUninstall, remediationFor, type FailureReport, type ReleaseInspection } from '../shared/domain/remediation';

const artifactsBucket = env('ARTIFACTS_BUCKET');

/**
 * Two small decisions of the name-reuse remediation, in one function to keep the stack small:
 * `diagnose` reads the failed Apply's report; `prepare` reads the release inspection and words the approval.
 */
export type RemediateEvent =
  | { readonly kind: 'diagnose'; readonly gateway: string; readonly executionName: string; readonly state: { readonly remediation?: unknown } }
  | { readonly kind: 'prepare'; readonly inspection: BuildResult };

async function readText(key: string): Promise<string | null> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: artifactsBucket, Key: key }));
    return await out.Body!.transformToString('utf-8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

async function readJson<T>(key: string): Promise<T | null> {
  const text = await readText(key);
  return text === null ? null : (JSON.parse(text) as T);
}

export async function handler(event: RemediateEvent): Promise<unknown> {
  if (event.kind === 'diagnose') {
    const report = await readJson<FailureReport>(`reports/${event.gateway}/${event.executionName}/apply-failure.json`);
    const result = remediationFor(report, event.state.remediation !== undefined);
    logger.info('apply failure diagnosed', { ...result });
    return result;
  }
  const reportKey = exportedVariables(event.inspection).RELEASE_REPORT_KEY ?? '';
  const text = reportKey ? await readText(reportKey) : null;
  const inspection = text === null ? null : (JSON.parse(text) as ReleaseInspection);
  // The approval of the uninstall binds the inspection the approver was shown.
  const decision = decideUninstall(inspection, reportKey, createHash('sha256').update(text ?? '').digest('hex'));
  logger.info('release inspected', { finding: decision.finding, decision: decision.decision });
  return decision;
}
