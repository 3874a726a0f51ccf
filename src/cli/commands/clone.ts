// `curvefs clone FS SRC DST [--json]`: a metadata-only copy of a file or a tree that shares the
// data objects of its files (src/client/clone.ts; docs/operations.md "clone").
import type { Command } from 'commander';
import { printJson } from '../output.ts';
import { withFs, type GlobalOptions } from '../context.ts';

export function registerCloneCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('clone')
    .description('copy a file or directory tree without copying its data: the copy shares its objects (copy-on-write)')
    .argument('<fs>', 'file system name')
    .argument('<src>', 'file or directory in the fs')
    .argument('<dst>', 'new path in the fs (must not exist)')
    .action(async (fsName: string, src: string, dst: string) => {
      const started = performance.now();
      const r = await withFs({ ...g(), fs: fsName }, ({ fs }) => fs.clone(src, dst));
      const seconds = (performance.now() - started) / 1000;
      if (g().json) return printJson({ fs: fsName, src, dst, ...r, seconds });
      process.stdout.write(`cloned ${src} to ${dst}: ${r.files} files, ${r.dirs} directories, ${r.symlinks} symlinks${r.others ? `, ${r.others} other nodes` : ''} in ${seconds.toFixed(1)} s\n`);
    });
}
