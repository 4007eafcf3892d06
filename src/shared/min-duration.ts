/**
 * Waits until at least `minMs` have passed since `startedAt` (ms, from `now`). Answers that must
 * not tell an existing account from a new one (verification send, enumeration-safe sign-up)
 * take at least this long, whichever path they took, so their timing says less. The floor
 * only hides a difference while both paths are faster than it.
 */
export async function atLeast(startedAt: number, minMs: number, now: () => number = Date.now): Promise<void> {
  const wait = startedAt + minMs - now();
  if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
}
