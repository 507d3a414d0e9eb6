// A client of the kernel zygote's line protocol for tests: one JSON request on a socket, the
// whole answer back as text (or "error: WHY" when the socket cannot be reached).
import { createConnection } from 'node:net';

export function askZygote(path: string, request: unknown): Promise<string> {
  return new Promise((resolve) => {
    const conn = createConnection(path);
    let buf = '';
    conn.on('data', (d) => {
      buf += d;
    });
    conn.on('error', (e) => resolve(`error: ${e.message}`));
    conn.on('close', () => resolve(buf));
    conn.write(`${JSON.stringify(request)}\n`);
  });
}
