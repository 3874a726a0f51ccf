// `--name N` from the command line of a simulation runner (run.ts, driver-run.ts): a non-negative
// integer, or exit 2 with a usage message.
export function intFlag(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`--${name} needs a non-negative integer`);
    process.exit(2);
  }
  return v;
}
