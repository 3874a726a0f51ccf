// `curvefs load FILE NEWFS [--no-data]`: a dump (binary or JSON, told apart by its first bytes)
// into a new fs (src/admin/load.ts). The dump is checked whole before anything is created; NEWFS
// is created with the source fs's layout and data store when it does not exist, and must be empty
// when it does. File data is copied from the source fs's block store (--no-data: metadata only,
// files keep their lengths and read as zeros).
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { CurveError, StatusCode } from '../../common/index.ts';
import { MdsService, type FsInfo } from '../../gen/mds_pb.ts';
import { dataStoreOf } from '../../client/index.ts';
import { openBlockStore, type BlockStore } from '../../data/index.ts';
import { DumpFormatError, loadDump, readDump, verifyDump } from '../../admin/index.ts';
import { CliError, EXIT, printJson } from '../output.ts';
import { openMds, type GlobalOptions, type MdsSession } from '../context.ts';
import { withAdminOn } from './admin-connect.ts';

async function fsInfo(mds: MdsSession, fsName: string): Promise<FsInfo | undefined> {
  try {
    return (await mds.connector.client(MdsService).getFsInfo({ fsName })).fsInfo;
  } catch (e) {
    if (e instanceof CurveError && (e.status === StatusCode.FS_NOT_FOUND || e.status === StatusCode.NOT_FOUND)) return undefined;
    throw e;
  }
}

export function registerLoadCommand(program: Command, g: () => GlobalOptions): void {
  program
    .command('load')
    .description('create a file system from a dump of `curvefs dump`')
    .argument('<file>', 'the dump')
    .argument('<newfs>', 'the file system to create (or an empty one)')
    .option('--no-data', 'metadata only: do not copy file data from the source fs')
    .action(async (file: string, newFs: string, o: { data: boolean }) => {
      const records = () => readDump(createReadStream(file, { highWaterMark: 1 << 20 }));
      let verified;
      try {
        verified = await verifyDump(records());
      } catch (e) {
        if (e instanceof DumpFormatError) throw new CliError(`${file}: ${e.message}`, EXIT.INVALID, 'invalid dump');
        throw e;
      }
      const started = performance.now();
      const mds = await openMds(g());
      let store: BlockStore | undefined;
      try {
        const src = await fsInfo(mds, verified.header.fsName);
        if (o.data && verified.dataObjects > 0) {
          if (!src) throw new CliError(`the dump's source fs ${verified.header.fsName} no longer exists, so its file data cannot be copied; give --no-data to load metadata only`, EXIT.NOT_FOUND, 'not found');
          store = await openBlockStore(dataStoreOf(src.dataStore));
        }
        if (!(await fsInfo(mds, newFs))) {
          if (!src) throw new CliError(`fs ${newFs} does not exist and the dump's source fs is gone: create ${newFs} first (curvefs fs create)`, EXIT.NOT_FOUND, 'not found');
          await mds.connector.client(MdsService).createFs({ fsName: newFs, blockSize: verified.header.blockSize, chunkSize: verified.header.chunkSize, dataStore: src.dataStore });
        }
        const stats = await withAdminOn(mds, newFs, (ctx) => loadDump(ctx, { records, store }, (n) => mds.adapter.allocateChunkIds(ctx.fsId, n), verified));
        const s = (performance.now() - started) / 1000;
        if (g().json) printJson({ fs: newFs, from: verified.header.fsName, ...stats, seconds: s });
        else process.stdout.write(`loaded ${newFs} from ${file}: ${stats.entries} names, ${stats.inodes} inodes, ${stats.objects} objects (${stats.bytes} bytes) in ${s.toFixed(1)} s\n`);
      } finally {
        await store?.close();
        mds.close();
      }
    });
}
