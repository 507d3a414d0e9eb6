// Fails at once, with the fix, when the port is taken: checked before any
// kernel, catalog or plan starts, so a failed start leaves nothing running.
import { createServer } from 'node:net';

export async function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on ${host} is already in use (another peragus serve?): stop it, or pick another port with --port N (0 picks a free one)`,
            )
          : err,
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
