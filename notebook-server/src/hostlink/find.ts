// For CLI commands that can work either through the host or on their own:
// the live host of this home, or null (saying on stderr why an address file
// that is there does not count).
import { findHost, type HostAddress, looseMode } from './address.ts';

export async function findHostOrSay(home: string): Promise<HostAddress | null> {
  const found = await findHost(home);
  if (found.kind === 'live') {
    if (looseMode(home) !== 0) {
      process.stderr.write(
        `peragus: warning: ${home}/host.json is readable by other users (it holds the host's token): chmod 600 it\n`,
      );
    }
    return found.address;
  }
  if (found.kind !== 'none') {
    process.stderr.write(`peragus: no live host (${found.path}: ${found.reason}); working on my own\n`);
  }
  return null;
}
