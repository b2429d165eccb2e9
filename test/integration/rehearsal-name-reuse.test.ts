/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use", rehearsed: a Helm release apheris-gateway that
 * Terraform does not know is on the cluster when the first install applies. Unmanaged, it is uninstalled after
 * an approval and the install re-planned and applied; managed by Flux, the run stops with that finding. The same
 * error about another release (prometheus in monitoring) is never answered with an uninstall of the gateway.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { rehearse, type RehearsalOptions, type RehearsalReport } from '../rehearsal/harness';
import { motoEndpoint } from './support/aws-clients';

jest.setTimeout(240_000);

let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-reuse-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

/** Each test a first install of its own gateway (the release only clashes when Terraform creates it). */
const run = (gatewayName: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, gatewayName), prefix: `reuse-${process.pid}`, config: { ...EXAMPLE_CONFIG, gatewayName }, ...options });
/** The states in order, a state's failure and its catch counted once. */
const order = (report: RehearsalReport) =>
  report.states.filter((s, i, all) => s.outcome !== 'retried' && all[i - 1]?.name !== s.name).map((s) => `${s.name}:${s.outcome}`);

test('an unmanaged release is uninstalled after approval, then the install is re-planned and applied once', async () => {
  const report = await run('unmanaged', { preexistingRelease: 'unmanaged' });
  expect(report.status).toBe('SUCCEEDED');
  const states = order(report);
  const from = states.findIndex((s) => s.startsWith('Apply:'));
  expect(states.slice(from)).toEqual([
    'Apply:failed', 'DiagnoseApplyFailure:succeeded', 'Remediable:succeeded', 'InspectRelease:succeeded', 'PrepareUninstall:succeeded',
    'UninstallGate:succeeded', 'ApproveUninstall:succeeded', 'CheckUninstallApproval:succeeded', 'UninstallRelease:succeeded', 'RePlanAfterUninstall:succeeded',
    'Plan:succeeded', 'AnalyzePlan:succeeded', 'ApprovalGate:succeeded', 'RequestApproval:succeeded', 'CheckApproval:succeeded', 'AfterApproval:succeeded',
    'Apply:succeeded', 'Verify:succeeded', 'EvaluateVerification:succeeded', 'RecordDeployment:succeeded', 'NotifySuccess:succeeded',
    'ReleaseLock:succeeded', 'RunOutcome:succeeded', 'Deployed:succeeded',
  ]);
  const asked = report.notifications.filter((n) => n.subject.includes('approve'));
  expect(asked).toHaveLength(3);
  expect(asked[1].message).toContain('Uninstall the Helm release apheris-gateway (namespace apheris)');
  expect(report.notifications.some((n) => n.topic === 'support')).toBe(true);
});

test('a release managed by Flux is left alone: the run stops with the finding and the seed\'s advice', async () => {
  const report = await run('fluxed', { preexistingRelease: 'flux' });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('ReleaseManagedElsewhere');
  const names = report.states.map((s) => s.name);
  expect(names).toContain('InspectRelease');
  expect(names).not.toContain('ApproveUninstall');
  expect(names).not.toContain('UninstallRelease');
  const failure = report.notifications.find((n) => n.subject.includes('failed'))!;
  expect(failure.message).toContain('managed-by-flux');
  expect(failure.message).toContain('not managed by another system');
});

// The control attacked: the error is about prometheus in monitoring, which the module installs before the gateway's
// release; the gateway's own release is on the cluster too, unmanaged. Before the release was read from the error,
// the run inspected apheris-gateway, found it unmanaged and asked to uninstall it.
test('the error about another release (prometheus in monitoring) stops the run naming it; the gateway\'s release is not inspected or uninstalled', async () => {
  const gatewayName = 'other-release';
  const config = { ...EXAMPLE_CONFIG, gatewayName, module: { ...EXAMPLE_CONFIG.module, extra_inputs: { simulate_other_helm_release: { name: 'prometheus', namespace: 'monitoring' } } } };
  const report = await run(gatewayName, { config, preexistingRelease: 'unmanaged', otherReleases: [{ release: 'prometheus', namespace: 'monitoring' }] });
  expect(report.status).toBe('FAILED');
  const states = order(report);
  const from = states.findIndex((s) => s.startsWith('Apply:'));
  expect(states.slice(from, from + 4)).toEqual(['Apply:failed', 'DiagnoseApplyFailure:succeeded', 'Remediable:succeeded', 'ApplyFailed:succeeded']);
  const names = report.states.map((s) => s.name);
  for (const state of ['InspectRelease', 'ApproveUninstall', 'UninstallRelease']) expect(names).not.toContain(state);
  expect(report.notifications.filter((n) => n.subject.includes('approve'))).toHaveLength(1);

  const failure = report.notifications.find((n) => n.subject.includes('failed'))!;
  expect(failure.message).toContain('the Helm release prometheus (namespace monitoring)');
  expect(failure.message).toContain('helm uninstall prometheus -n monitoring');
  expect(failure.message).not.toContain('helm uninstall apheris-gateway');
  expect(failure.message).not.toMatch(/seed/i);
  // Both releases are still on the cluster.
  expect(report.clusterReleases).toEqual(expect.arrayContaining(['apheris/sh.helm.release.v1.apheris-gateway.v1', 'monitoring/sh.helm.release.v1.prometheus.v1']));
});
