import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

/** A server the test harness started, leader of its own process group, stdout+stderr in `log`. */
export interface GroupProcess {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<void>;
  exitCode?: number | string | null;
}

export function spawnGroup(name: string, bin: string, args: string[], options: { cwd: string; log: string }): GroupProcess {
  const fd = openSync(options.log, 'a');
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], cwd: options.cwd });
  closeSync(fd);
  const proc: GroupProcess = { name, child, log: options.log, exited: Promise.resolve() };
  proc.exited = new Promise((res) => child.once('exit', (code, sig) => { proc.exitCode = code ?? sig; res(); }));
  child.once('error', (e) => { proc.exitCode = String(e); });
  return proc;
}

/** Signals the whole group, so what the process started goes too; nothing if it has exited. */
export function signalGroup(p: GroupProcess, sig: NodeJS.Signals): void {
  if (p.exitCode !== undefined || p.child.pid === undefined) return;
  try { process.kill(-p.child.pid, sig); } catch { /* already gone */ }
}

/** `sig` to the group, SIGKILL if it is still there after `graceMs`; resolves once it has exited. */
export async function terminateGroup(p: GroupProcess, graceMs: number, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  signalGroup(p, sig);
  const timer = setTimeout(() => signalGroup(p, 'SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
