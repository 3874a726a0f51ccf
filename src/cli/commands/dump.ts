// `curvefs dump FS [--format json|binary] [--out F]`: the fs's metadata as a stream
// (src/admin/dump.ts, format in docs/formats.md); to stdout unless --out.
import type { Command } from 'commander';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Option } from 'commander';
import { DumpWriter, dumpTree, type DumpFormat } from '../../admin/index.ts';
import type { GlobalOptions } from '../context.ts';
import { withAdmin } from './admin-connect.ts';

function sinkOf(stream: NodeJS.WritableStream): (b: Uint8Array) => Promise<void> {
  return (b) =>
    new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      stream.once('error', onError);
      const ok = stream.write(b, (e) => {
        stream.off('error', onError);
        if (e) reject(e);
        else if (ok) resolve();
      });
      if (!ok) stream.once('drain', () => resolve());
    });
}

export function registerDumpCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('dump')
    .description('write the metadata of a file system as a stream (load it with `curvefs load`)')
    .argument('<fs>', 'file system name')
    .addOption(new Option('--format <format>', 'json (one record per line) or binary (compact)').choices(['json', 'binary']).default('binary'))
    .option('--out <file>', 'write here instead of stdout')
    .action(async (fsName: string, o: { format: DumpFormat; out?: string }) => {
      let file: WriteStream | undefined;
      if (o.out) file = createWriteStream(o.out, { flags: 'wx', mode: 0o600 });
      const stream = file ?? process.stdout;
      const started = performance.now();
      const stats = await withAdmin(g(), fsName, (ctx) => dumpTree(ctx, fsName, new DumpWriter(o.format, sinkOf(stream)), new Date()));
      if (file) await new Promise<void>((resolve, reject) => file!.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const s = (performance.now() - started) / 1000;
      process.stderr.write(`dumped ${fsName}: ${stats.entries} names, ${stats.inodes} inodes in ${s.toFixed(1)} s\n`);
    });
}
