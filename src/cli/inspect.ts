// `curvefs inspect FILE [--dump] [--json]`: checks a CURVEFS snapshot file and prints its header,
// record counts per type and partition, and the checksum verdict; --dump also prints every
// entry. A copyset snapshot image (a "CURVECS" extras section before the CURVEFS stream) is
// accepted too: the section is skipped. Exit code (as `curvefs --help` lists them): 0 valid,
// 6 corrupt (not a snapshot, bad checksum, torn), 3 missing, 1 unreadable for another reason.
// Standalone: npx tsx src/cli/inspect.ts FILE [--dump] [--json]
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  describeRecord,
  RECORD_NAMES,
  SnapshotFormatError,
  SnapshotParser,
  type RecordDescription,
  type SnapshotHeader,
} from '../metaserver/partition/index.ts';

export interface InspectOptions {
  dump?: boolean;
  json?: boolean;
}

const COPYSET_MAGIC = 'CURVECS';

/** Where the CURVEFS stream starts (after a copyset image's extras section, if any). */
async function curvefsOffset(file: string): Promise<{ offset: number; container: string }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(15);
    const { bytesRead } = await fh.read(head, 0, 15, 0);
    if (bytesRead === 15 && head.subarray(0, 7).toString('latin1') === COPYSET_MAGIC) {
      // "CURVECS" | version u32 | length u32 | extras | crc32c u32 (src/metaserver/copyset/snapshot.ts)
      return { offset: 15 + head.readUInt32LE(11) + 4, container: 'copyset image (CURVECS extras skipped)' };
    }
    return { offset: 0, container: 'CURVEFS snapshot' };
  } finally {
    await fh.close();
  }
}

export async function inspectCommand(file: string, opts: InspectOptions = {}): Promise<number> {
  const out = (s: string) => process.stdout.write(s + '\n');
  const counts = new Map<number, Map<string, number>>();
  const entries: RecordDescription[] = [];
  let header: SnapshotHeader | undefined;
  let problem: SnapshotFormatError | Error | undefined;
  let checksum: bigint | undefined;
  let start = { offset: 0, container: 'CURVEFS snapshot' };
  try {
    start = await curvefsOffset(file);
    const parser = new SnapshotParser({
      header(h) {
        header = h;
        if (!opts.json) out(`${file}: ${start.container}\nmagic ${h.magic}  version ${h.version}  pairs ${h.pairCount}`);
      },
      pair(buf, ks, ke, vs, ve) {
        const type = RECORD_NAMES[buf[ks]!] ?? `type-${buf[ks]}`;
        const pid = ke - ks >= 5 ? ((buf[ks + 1]! << 24) | (buf[ks + 2]! << 16) | (buf[ks + 3]! << 8) | buf[ks + 4]!) >>> 0 : -1;
        let m = counts.get(pid);
        if (m === undefined) counts.set(pid, (m = new Map()));
        m.set(type, (m.get(type) ?? 0) + 1);
        if (opts.dump) {
          let d: RecordDescription;
          try {
            d = describeRecord(buf, ks, ke, vs, ve, header?.version);
          } catch (e) {
            d = { type, partition: pid, key: {}, value: { undecodable: (e as Error).message } };
          }
          if (opts.json) entries.push(d);
          else out(`${d.type} p${d.partition} ${JSON.stringify(d.key)} ${JSON.stringify(d.value)}`);
        }
      },
    });
    for await (const chunk of createReadStream(file, { start: start.offset, highWaterMark: 1 << 20 })) parser.push(chunk as Buffer);
    parser.end();
    checksum = parser.checksum;
  } catch (e) {
    problem = e as Error;
  }

  const types = Object.values(RECORD_NAMES);
  const partitions = [...counts.keys()].sort((a, b) => a - b);
  if (opts.json) {
    const report: Record<string, unknown> = {
      file,
      container: start.container,
      offset: start.offset,
      header: header ?? null,
      partitions: Object.fromEntries(partitions.map((p) => [p, Object.fromEntries(counts.get(p)!)])),
      totals: Object.fromEntries(types.map((t) => [t, partitions.reduce((n, p) => n + (counts.get(p)!.get(t) ?? 0), 0)])),
      checksum: checksum === undefined ? null : `0x${checksum.toString(16).padStart(16, '0')}`,
      valid: problem === undefined,
    };
    if (problem) {
      report.error =
        problem instanceof SnapshotFormatError
          ? { reason: problem.reason, offset: start.offset + problem.offset, message: problem.message }
          : { reason: 'unreadable', message: problem.message };
    }
    if (opts.dump) report.entries = entries;
    out(JSON.stringify(report, null, 2));
  } else {
    if (partitions.length > 0) {
      out(['pid', ...types].map((s) => s.padStart(10)).join(''));
      for (const p of partitions) out([String(p), ...types.map((t) => String(counts.get(p)!.get(t) ?? 0))].map((s) => s.padStart(10)).join(''));
    }
    if (problem === undefined) {
      out(`checksum CRC-64/XZ 0x${checksum!.toString(16).padStart(16, '0')}: OK`);
    } else if (problem instanceof SnapshotFormatError) {
      out(`INVALID (${problem.reason}, byte ${start.offset + problem.offset}): ${problem.message}`);
    } else {
      out(`UNREADABLE: ${problem.message}`);
    }
  }
  return inspectExitCode(problem);
}

/** 0 valid, 6 corrupt, 3 missing, 1 unreadable otherwise (permissions, a directory, I/O). */
function inspectExitCode(problem: Error | undefined): number {
  if (problem === undefined) return 0;
  if (problem instanceof SnapshotFormatError) return 6;
  return (problem as NodeJS.ErrnoException).code === 'ENOENT' ? 3 : 1;
}

// Standalone use.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (file === undefined) {
    process.stderr.write('usage: inspect.ts FILE [--dump] [--json]\n');
    process.exit(2);
  }
  process.exitCode = await inspectCommand(file, { dump: args.includes('--dump'), json: args.includes('--json') });
}
