// Runs async jobs with at most `limit` in flight; rejects with the first error after the jobs
// already started have settled (so nothing keeps running behind the caller's back).
export async function runLimited<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !failed) {
      const i = next++;
      try {
        results[i] = await jobs[i]!();
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failed) throw failed.error;
  return results;
}
