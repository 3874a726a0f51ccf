// `curvefs fs create|list|info|delete`: file systems on the MDS.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MdsService, FsStatus, type FsInfo } from '../../gen/mds_pb.ts';
import { intArg, OptionValueError } from '../../common/index.ts';
import { humanBytes, printJson, printTable } from '../output.ts';
import { openMds, type GlobalOptions } from '../context.ts';
import { trashDaysArg } from './trash.ts';

type Globals = () => GlobalOptions;

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(s.trim());
  if (!m) throw new OptionValueError('Expected a size (e.g. 4MiB, 64M, 1G, 4096).');
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2]!.toLowerCase() as '' | 'k'];
  return Math.round(parseFloat(m[1]!) * mult);
}

export function fsInfoJson(f: FsInfo) {
  const ds = f.dataStore?.kind;
  return {
    id: f.fsId,
    name: f.fsName,
    status: FsStatus[f.status],
    blockSize: f.blockSize,
    chunkSize: f.chunkSize,
    capacity: f.capacity,
    // Lengths of regular files (deleted ones not yet reclaimed included) and inodes, as the
    // partitions last reported them; usageComplete false: some partition has not reported yet.
    usedBytes: f.usedBytes,
    usedInodes: f.usedInodes,
    maxInodes: f.maxInodes,
    trashHours: f.recycleTimeHour,
    usageComplete: f.usageComplete,
    mounts: f.mountpoints.map((m) => `${m.mountpoint?.hostname}:${m.mountpoint?.port}:${m.mountpoint?.path}`),
    dataStore: ds?.case === 'local' ? { local: ds.value.dir } : ds?.case === 's3' ? { s3: `${ds.value.endpoint}/${ds.value.bucketName}/${ds.value.prefix}` } : null,
  };
}

/** The S3 secret key from --s3-secret-key-file or $AWS_SECRET_ACCESS_KEY, never from argv. */
function s3SecretKey(o: Record<string, string | number | boolean | undefined>): string {
  if (o.s3SecretKey !== undefined) {
    throw new Error('--s3-secret-key is refused: a secret on the command line is visible to every local user (ps, /proc); put it in a file readable only by you and give --s3-secret-key-file <file>, or set AWS_SECRET_ACCESS_KEY');
  }
  if (typeof o.s3SecretKeyFile === 'string') {
    try {
      return readFileSync(o.s3SecretKeyFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new Error(`cannot read the S3 secret key file ${o.s3SecretKeyFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  return process.env.AWS_SECRET_ACCESS_KEY ?? '';
}

/** "1.5 MiB (1572864 bytes, 15%)": exact bytes next to the human form, share of the capacity. */
export function usedText(f: { usedBytes: number; capacity: number; usageComplete: boolean }): string {
  const share = f.capacity > 0 ? `, ${Math.floor((f.usedBytes * 100) / f.capacity)}%` : '';
  return `${f.usageComplete ? '' : '≥ '}${humanBytes(f.usedBytes)} (${f.usedBytes} bytes${share})`;
}

export function registerFsCommands(program: Command, g: Globals): void {
  const fs = program.command('fs').description('create, list, inspect and delete file systems');

  fs.command('create')
    .description('create a file system')
    .argument('<name>', 'lower-case letters, digits and single dashes')
    .option('--block-size <size>', 'block size', parseSize, parseSize('4MiB'))
    .option('--chunk-size <size>', 'chunk size', parseSize, parseSize('64MiB'))
    .option('--capacity <size>', 'capacity (0 = unlimited)', parseSize, 0)
    .option('--max-inodes <n>', 'inode limit (0 = none)', intArg('an inode count'), 0)
    .option('--local-dir <dir>', 'store blocks in this local directory')
    .option('--s3-endpoint <url>', 'S3 endpoint (e.g. http://127.0.0.1:9000)')
    .option('--s3-bucket <bucket>')
    .option('--s3-access-key <ak>', 'S3 access key', process.env.AWS_ACCESS_KEY_ID ?? '')
    .option('--s3-secret-key-file <file>', 'file holding the S3 secret key (default: $AWS_SECRET_ACCESS_KEY)')
    // Kept only to refuse it precisely: a secret on the command line is visible to every local user.
    .option('--s3-secret-key <sk>', 'refused: use --s3-secret-key-file or $AWS_SECRET_ACCESS_KEY')
    .option('--s3-region <region>', 'S3 region', 'us-east-1')
    .option('--s3-path-style', 'path-style S3 URLs')
    .option('--s3-prefix <prefix>', 'object key prefix', '')
    .option('--partitions <n>', 'initial partitions (0 = MDS default)', intArg('a partition count'), 0)
    .option('--trash-days <days>', 'keep removed files in the trash this long (0 = no trash; `curvefs trash`)', trashDaysArg, 24)
    .action(async (name: string, o: Record<string, string | number | boolean | undefined>) => {
      const sk = o.s3Bucket ? s3SecretKey(o) : '';
      const mds = await openMds(g());
      try {
        const dataStore = o.s3Bucket
          ? { kind: { case: 's3' as const, value: { endpoint: String(o.s3Endpoint ?? ''), bucketName: String(o.s3Bucket), ak: String(o.s3AccessKey ?? ''), sk, region: String(o.s3Region ?? ''), pathStyle: Boolean(o.s3PathStyle), prefix: String(o.s3Prefix ?? '') } } }
          : { kind: { case: 'local' as const, value: { dir: resolve(String(o.localDir ?? `${g().dir ?? '.curvefs'}/data`)) } } };
        const res = await mds.connector.client(MdsService).createFs({
          fsName: name,
          blockSize: Number(o.blockSize),
          chunkSize: Number(o.chunkSize),
          capacity: Number(o.capacity),
          maxInodes: Number(o.maxInodes),
          dataStore,
          partitionCount: Number(o.partitions),
          recycleTimeHour: Number(o.trashDays),
        });
        if (g().json) printJson(fsInfoJson(res.fsInfo!));
        else process.stdout.write(`created fs ${name} (id ${res.fsInfo?.fsId})\n`);
      } finally {
        mds.close();
      }
    });

  fs.command('list')
    .description('list file systems')
    .action(async () => {
      const mds = await openMds(g());
      try {
        const res = await mds.connector.client(MdsService).listClusterFsInfo({});
        const rows = res.fsInfo.map(fsInfoJson);
        if (g().json) return printJson(rows);
        printTable(['id', 'name', 'status', 'block', 'chunk', 'capacity', 'used', 'inodes', 'mounts'], rows.map((r) => [
          r.id, r.name, r.status, humanBytes(r.blockSize), humanBytes(r.chunkSize), r.capacity ? humanBytes(r.capacity) : 'unlimited', usedText(r), r.usedInodes, r.mounts.length,
        ]));
      } finally {
        mds.close();
      }
    });

  fs.command('info')
    .description('show one file system')
    .argument('<name>')
    .action(async (name: string) => {
      const mds = await openMds(g());
      try {
        const res = await mds.connector.client(MdsService).getFsInfo({ fsName: name });
        const info = fsInfoJson(res.fsInfo!);
        if (g().json) return printJson(info);
        for (const [k, v] of Object.entries(info)) process.stdout.write(`${k.padEnd(10)} ${typeof v === 'object' ? JSON.stringify(v) : v}\n`);
      } finally {
        mds.close();
      }
    });

  fs.command('delete')
    .description('delete a file system (refused while mounted; data reclaimed in the background)')
    .argument('<name>')
    .option('--force', 'leave its blocks in the data store (one that cannot be reached); also for an fs already being deleted')
    .action(async (name: string, o: { force?: boolean }) => {
      const mds = await openMds(g());
      try {
        await mds.connector.client(MdsService).deleteFs({ fsName: name, force: o.force === true });
        if (g().json) printJson({ deleted: name, keepData: o.force === true });
        else if (o.force) process.stdout.write(`deleting fs ${name}; its blocks stay in its data store (delete them there if it comes back)\n`);
        else process.stdout.write(`deleting fs ${name}\n`);
      } finally {
        mds.close();
      }
    });
}
