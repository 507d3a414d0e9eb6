// For CLI commands that can work either through the host or on their own:
// the live host of this home, or null (saying on stderr why an address file
// that is there does not count).

import type { Logger } from '../log/index.ts';
import { findHost, type HostAddress, looseMode } from './address.ts';

export async function findHostOrSay(home: string, log: Logger): Promise<HostAddress | null> {
  const found = await findHost(home);
  if (found.kind === 'live') {
    if (looseMode(home) !== 0) {
      log.warn(
        `peragus: warning: ${home}/host.json is readable by other users (it holds the host's token): chmod 600 it`,
      );
    }
    return found.address;
  }
  if (found.kind !== 'none') {
    log.info(`peragus: no live host (${found.path}: ${found.reason}); working on my own`);
  }
  return null;
}
