import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubectlEnv, startKubeStandin, type KubeconfigOptions, type KubeStandin, type KubeState } from './kube-standin';
import { runTool, type ToolRun } from './local-tools';

/**
 * A kube stand-in with a kubeconfig in a fresh folder, and the real kubectl and the helm stand-in pointed at it,
 * for the stand-in's own tests. Child processes run asynchronously (execFile), since the stand-in answers from
 * this process's event loop. What a test starts is undone by runCleanups (the files call it in afterEach).
 */
export const HELM_STANDIN_DIR = path.resolve(__dirname, 'helm-standin');

export const cleanups: Array<() => Promise<void> | void> = [];

export async function runCleanups(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

export interface StandinHarness {
  kube: KubeStandin;
  dir: string;
  env: NodeJS.ProcessEnv;
  kubectl: (...args: string[]) => Promise<ToolRun>;
  helm: (...args: string[]) => Promise<ToolRun>;
  helmEnv: NodeJS.ProcessEnv;
}

export async function standinHarness(
  initial: Partial<KubeState> = {},
  opts: { config?: KubeconfigOptions; extraEnv?: NodeJS.ProcessEnv; dirPrefix?: string } = {},
): Promise<StandinHarness> {
  const kube = await startKubeStandin(initial);
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), opts.dirPrefix ?? 'kube-standin-test-')));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => kube.stop());
  const kubeconfig = path.join(dir, 'kubeconfig');
  kube.writeKubeconfig(kubeconfig, opts.config ?? { token: 'test-token' });
  const env = kubectlEnv(dir, kubeconfig, opts.extraEnv);
  const helmEnv = { PATH: `${HELM_STANDIN_DIR}${path.delimiter}${process.env.PATH}`, HOME: dir, HELM_STANDIN_KUBE_URL: kube.url };
  return { kube, dir, env, kubectl: (...args) => runTool('kubectl', args, env), helm: (...args) => runTool('helm', args, helmEnv), helmEnv };
}
