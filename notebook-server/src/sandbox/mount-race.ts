// bubblewrap copies the host's whole mount tree into each sandbox (`--ro-bind / /`) and then makes
// every submount read-only, one at a time. A submount that goes away in between fails the whole
// start with EINVAL or ENOENT, before anything runs in the sandbox: Docker's `<layer>-init/merged`
// overlay, mounted for a moment while a container is created, does it about once in 400 sandbox
// starts beside a loop of `docker run` here (a Docker plan's warm pool fills while its model check
// starts). Debian's bubblewrap (0.8) has no way to skip such a submount, and nothing ran, so the
// start is made again: the next one copies a mount table without it.

const RACE =
  /bwrap: Can't bind mount \/oldroot\/\S* on \/newroot\/\S*: Unable to apply mount flags: remount "[^"\n]+": (?:Invalid argument|No such file or directory)/;
const RACE_LINE = new RegExp(`^${RACE.source}$`);

/** How many times a sandbox is started before its mount race is reported as the error. */
export const SANDBOX_START_ATTEMPTS = 3;

/** Whether `stderr` is exactly bubblewrap's report of a submount that went away (and nothing else). */
export function isMountRace(stderr: string): boolean {
  return RACE_LINE.test(stderr.trim());
}

/** Whether a message we composed quotes bubblewrap's report of a submount that went away. */
export function quotesMountRace(message: string): boolean {
  return RACE.test(message);
}

/**
 * Starts a sandbox again while its start failed on the mount race (`raced` tells that from its
 * result, when a start that lost returns; a thrown error is tested with {@link quotesMountRace}),
 * at most {@link SANDBOX_START_ATTEMPTS} times; the last attempt's result or error is the caller's.
 */
export async function retryMountRace<T>(
  start: () => Promise<T>,
  raced: (result: T) => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= SANDBOX_START_ATTEMPTS;
    let result: T;
    try {
      result = await start();
    } catch (e) {
      if (!last && quotesMountRace((e as Error).message)) continue;
      throw e;
    }
    if (last || !raced(result)) return result;
  }
}

/** {@link retryMountRace} for a synchronous start (the sandbox probe). */
export function retryMountRaceSync<T>(start: () => T, raced: (result: T) => boolean): T {
  for (let attempt = 1; ; attempt++) {
    const result = start();
    if (attempt >= SANDBOX_START_ATTEMPTS || !raced(result)) return result;
  }
}
