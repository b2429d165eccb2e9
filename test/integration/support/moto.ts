import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** A moto_server child process started by this test run. */
export interface MotoServer {
  readonly endpoint: string;
  /** Where the server's stdout and stderr go; read it when a request misbehaves. */
  readonly logFile: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_CHARS = 4_000;

export const MOTO_NOT_FOUND_MESSAGE =
  "python3 not found on PATH: the tests run moto's server as python3 -m moto.server (pip install 'moto[server]==5.2.1', the CI image has both)";


/** Absolute path of an executable on PATH, or undefined. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // Not in this PATH entry; keep looking.
    }
  }
  return undefined;
}

/** A port that was free a moment ago; moto binds it right after, so the race window is tiny. */
async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

function logTail(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').slice(-LOG_TAIL_CHARS);
  } catch {
    return '(no log written)';
  }
}

/** True when something at `endpoint` answers the moto API within `timeoutMs`. */
export async function motoAnswers(endpoint: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts moto_server (python3 -m moto.server) on a free loopback port and resolves once it answers HTTP. */
export async function startMoto(opts: { env?: Record<string, string> } = {}): Promise<MotoServer> {
  const executable = findOnPath('python3');
  if (!executable) throw new Error(MOTO_NOT_FOUND_MESSAGE);

  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logFile = path.join(os.tmpdir(), `moto-server-${port}-${process.pid}.log`);
  const logFd = fs.openSync(logFile, 'w');
  // Own process group, so stop() also reaches interpreters that a shim (pyenv) may fork.
  const child = spawn(executable, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
    // INITIAL_NO_AUTH_ACTION_COUNT, for one: moto checks signatures and IAM policies after that many requests.
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  fs.closeSync(logFd);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });

  const killGroup = (signal: NodeJS.Signals) => {
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  // A crashed or interrupted jest run would otherwise leave the server behind.
  const onParentExit = () => killGroup('SIGKILL');
  process.once('exit', onParentExit);

  const stop = async () => {
    process.removeListener('exit', onParentExit);
    if (exited || spawnError) return;
    killGroup('SIGTERM');
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<false>((resolve) => {
      graceTimer = setTimeout(() => resolve(false), STOP_GRACE_MS);
    });
    const stopped = await Promise.race([exitPromise.then(() => true), grace]);
    // A pending grace timer would hold jest open for its full length.
    clearTimeout(graceTimer);
    if (!stopped) {
      killGroup('SIGKILL');
      await exitPromise;
    }
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError) {
      await stop();
      throw new Error(`could not spawn ${executable}: ${spawnError.message}`);
    }
    if (exited) {
      await stop();
      throw new Error(
        `moto_server exited during startup (code ${exited.code}, signal ${exited.signal}); log ${logFile}:\n${logTail(logFile)}`,
      );
    }
    if (await motoAnswers(endpoint)) {
      // A server that started is not debugged from its log afterwards (request lines are not logged): removed with it.
      const stopAndClean = async () => {
        await stop();
        fs.rmSync(logFile, { force: true });
      };
      return { endpoint, logFile, stop: stopAndClean };
    }
    await sleep(100);
  }
  await stop();
  throw new Error(
    `moto_server did not answer on ${endpoint} within ${STARTUP_TIMEOUT_MS / 1000} s; log ${logFile}:\n${logTail(logFile)}`,
  );
}

/**
 * Drops all state in moto. Every test file shares one server, and jest runs files in parallel workers,
 * so only call this from a file that owns the server for its whole run; otherwise prefer unique names.
 */
export async function resetMoto(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`moto reset at ${endpoint} failed: HTTP ${response.status}`);
}
