// Starts a real S3-protocol server (npm s3rver) as a child process for tests and benchmarks:
// loopback, OS-chosen port, a fresh temp directory, one bucket. Readiness is polled over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { createInterface } from 'node:readline';

export interface S3rverHandle {
  endpoint: string;
  port: number;
  bucket: string;
  /** Credentials s3rver accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  process: ChildProcess;
  stop(): Promise<void>;
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 's3rver-child.mjs');

export async function startS3rver(opts: { bucket?: string; deadlineMs?: number; extraKeys?: Array<[accessKeyId: string, secretAccessKey: string]> } = {}): Promise<S3rverHandle> {
  const bucket = opts.bucket ?? 'curvefs-test';
  const deadline = Date.now() + (opts.deadlineMs ?? 20_000);
  const dir = await mkdtemp(join(tmpdir(), 'curvefs-s3rver-'));
  const child = spawn(process.execPath, [CHILD, dir, bucket, JSON.stringify(opts.extraKeys ?? [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end();
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await firstLinePort(child, deadline);
    await pollUntil(() => httpAnswers(port), deadline, 's3rver did not answer HTTP');
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      bucket,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      process: child,
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

function firstLinePort(child: ChildProcess, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('s3rver did not report its port in time')), Math.max(0, deadline - Date.now()));
    child.once('exit', (code) => reject(new Error(`s3rver exited early with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch (e) {
        reject(e);
      }
    });
  });
}

function httpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function pollUntil(pred: () => Promise<boolean>, deadline: number, what: string): Promise<void> {
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 20));
  }
}
