// Writes `pieces` pieces of `pieceBytes` to a file through the mount, one after the other, until
// one is refused: how much was acknowledged and the error that stopped it (undefined: none did).
import * as fsp from 'node:fs/promises';

export async function writeUntilRefused(path: string, flags: string, pieceBytes: number, pieces: number, fill: number): Promise<{ written: number; refused: unknown }> {
  const fh = await fsp.open(path, flags);
  let written = 0;
  let refused: unknown;
  try {
    for (let i = 0; i < pieces; i++) {
      await fh.write(Buffer.alloc(pieceBytes, fill), 0, pieceBytes, written);
      written += pieceBytes;
    }
  } catch (e) {
    refused = e;
  } finally {
    await fh.close();
  }
  return { written, refused };
}
