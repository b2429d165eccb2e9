import type { DeploymentRecord } from '../domain/history';
import { formatTime, renderTable, shortPrincipal } from './text-format';

/**
 * The pure part of `history`: the deployment records RecordDeployment and NotifyFailure wrote (history.ts),
 * as a table or as JSON. Records are read as flat strings; fields an older deployer did not write are empty.
 */

export type HistoryEntry = Partial<Record<keyof DeploymentRecord, string>> & Record<string, string>;

/** The item's string attributes, without the table's keys. */
export function historyEntryFromItem(item: Record<string, { S?: string } | undefined>): HistoryEntry {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(item)) if (k !== 'pk' && k !== 'sk' && typeof v?.S === 'string') out[k] = v.S;
  return out as HistoryEntry;
}

/**
 * `0.8.1 → 0.9.0 (upgrade)`, `→ 0.8.1 (install)`, `0.9.0 (redeploy)`, `drift-check of 0.9.0`; what is known when
 * a run stopped early.
 */
export function versionChange(r: HistoryEntry): string {
  // Records of other operations (drift-check, detach-vpc), when they carry the operation: what ran, on what.
  if (r.operation && r.operation !== 'deploy') return `${r.operation}${r.toVersion ? ` of ${r.toVersion}` : ''}`;
  const from = r.fromVersion ?? '';
  const to = r.toVersion ?? '';
  const change = r.change ? ` (${r.change})` : '';
  if (!from && !to) return r.change || '-';
  if (from && to && from === to) return `${to}${change}`;
  return `${from ? `${from} ` : ''}→ ${to || '?'}${change}`;
}

/** `succeeded`, or `failed at Apply: StaleTerraformPlan`. */
export function outcomeText(r: HistoryEntry): string {
  if (r.outcome !== 'failed') return r.outcome || '-';
  const at = r.failedStep ? ` at ${r.failedStep}` : '';
  return `failed${at}${r.error ? `: ${r.error}` : ''}`;
}

export function approvedByText(r: HistoryEntry): string {
  return r.approvedBy ? shortPrincipal(r.approvedBy) : '-';
}

/** Newest first by start time (the sort key's order, re-checked). */
export function newestRecordsFirst(records: readonly HistoryEntry[]): HistoryEntry[] {
  return [...records].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
}

export function formatHistory(gateway: string, records: readonly HistoryEntry[]): string[] {
  if (records.length === 0) return [`No deployments recorded for gateway ${gateway} yet.`];
  const rows = newestRecordsFirst(records).map((r) => [formatTime(r.startedAt), versionChange(r), outcomeText(r), approvedByText(r), r.trigger || '-', r.executionName || '-']);
  return [`Deployments of gateway ${gateway}, newest first:`, '', ...renderTable(['STARTED', 'VERSION', 'OUTCOME', 'APPROVED BY', 'TRIGGER', 'EXECUTION'], rows)];
}
