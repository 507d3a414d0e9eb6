// A TCP forward from 127.0.0.1:<free port> to HOST:PORT, for swarm-lab.sh push:
// Docker treats a registry on 127.0.0.1 as insecure-allowed, so the host's own
// daemon pushes straight into the lab registry (no save | load into the
// manager). Prints the local port on stdout once listening; exits when stdin closes.
import { connect, createServer } from 'node:net';

const [target] = process.argv.slice(2);
const m = /^([^:]+):(\d+)$/.exec(target ?? '');
if (!m) {
  process.stderr.write('usage: node scripts/tcp-forward.mjs HOST:PORT\n');
  process.exit(2);
}
const server = createServer((client) => {
  const upstream = connect(Number(m[2]), m[1]);
  client.pipe(upstream).pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
