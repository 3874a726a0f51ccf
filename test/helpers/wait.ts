// One wait for a condition in tests: poll `pred` until it holds, failing with `what` after the
// deadline. A safety net against a hang, never a timing assertion and never a sleep.
export async function waitFor(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
