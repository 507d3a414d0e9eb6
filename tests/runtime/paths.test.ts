import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { readInside, writeInside } from '../../notebook-server/src/confine/fs.ts';
import { PathError } from '../../notebook-server/src/confine/relative.ts';
import { DockerRuntime } from '../../notebook-server/src/runtime/docker.ts';
import {
  endpointFor,
  experimentLayout,
  releaseEndpoint,
  resolveExperimentPath,
} from '../../notebook-server/src/runtime/paths.ts';
import {
  ContainerRuntimeError,
  ContainerSpecSchema,
  parseMemory,
} from '../../notebook-server/src/runtime/types.ts';

const scratch = mkdtempSync(join(tmpdir(), 'peragus-paths-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ContainerRuntimeError ? err.code : `not a runtime error: ${String(err)}`;
  }
  return undefined;
}

describe('resolveExperimentPath', () => {
  it('accepts relative paths and /experiment paths, normalised', () => {
    expect(resolveExperimentPath('a/b.csv')).toEqual({
      relative: 'a/b.csv',
      container: '/experiment/a/b.csv',
    });
    expect(resolveExperimentPath('./a//b.csv').relative).toBe('a/b.csv');
    expect(resolveExperimentPath('/experiment/out/x.parquet').relative).toBe('out/x.parquet');
    expect(resolveExperimentPath('a/../b.txt').relative).toBe('b.txt');
    expect(resolveExperimentPath('dir/').relative).toBe('dir');
  });

  it.each([
    '../etc/passwd',
    '..',
    'a/../../x',
    './../x',
    '/etc/passwd',
    '/experiment/../etc/passwd',
    '/experimentx/a',
    '',
    '   ',
    '.',
    '/experiment',
    'a\0b',
  ])('rejects %j with invalid_path', (input) => {
    expect(codeOf(() => resolveExperimentPath(input))).toBe('invalid_path');
  });

  it('names the offending path and the rule in the message', () => {
    expect(() => resolveExperimentPath('../../etc/shadow', 'dest')).toThrow(
      /dest "\.\.\/\.\.\/etc\/shadow" escapes \/experiment/,
    );
    expect(() => resolveExperimentPath('/etc/shadow', 'dest')).toThrow(/absolute path outside \/experiment/);
  });
});

describe('confined file operations (host side, never following links)', () => {
  const root = join(scratch, 'work');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(scratch, 'secret.txt'), 'outside');
  writeFileSync(join(root, 'sub', 'in.txt'), 'inside');
  symlinkSync(scratch, join(root, 'escape'));
  symlinkSync(join(scratch, 'secret.txt'), join(root, 'secret-link'));
  symlinkSync(join(root, 'sub'), join(root, 'inner-link'));
  const pathCode = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof PathError ? err.code : `not a path error: ${String(err)}`;
    }
    return undefined;
  };

  it('reads and writes real files inside the root, making parents', () => {
    expect(readInside(root, 'sub/in.txt').toString()).toBe('inside');
    expect(writeInside(root, 'sub/new/file.txt', 'x').rel).toBe('sub/new/file.txt');
    expect(readFileSync(join(root, 'sub/new/file.txt'), 'utf8')).toBe('x');
  });

  it('refuses every link on the path, even one that stays inside', () => {
    expect(pathCode(() => readInside(root, 'escape/secret.txt'))).toBe('symlink');
    expect(pathCode(() => writeInside(root, 'escape/new-file', 'x'))).toBe('symlink');
    expect(pathCode(() => readInside(root, 'secret-link'))).toBe('symlink');
    expect(pathCode(() => readInside(root, 'inner-link/in.txt'))).toBe('symlink');
    expect(pathCode(() => readInside(root, '../secret.txt'))).toBe('invalid_path');
    expect(existsSync(join(scratch, 'new-file'))).toBe(false);
  });

  it('replaces a link at the target instead of writing through it', () => {
    writeInside(root, 'secret-link', 'mine');
    expect(readFileSync(join(scratch, 'secret.txt'), 'utf8')).toBe('outside');
    expect(lstatSync(join(root, 'secret-link')).isFile()).toBe(true);
  });
});

describe('endpoint paths', () => {
  it('keeps short socket paths and links long ones from the temp dir', () => {
    const short = experimentLayout('/h', 'e1').socketPath;
    expect(short).toBe('/h/experiments/e1/work/.peragus/node.sock');
    expect(endpointFor(short)).toBe(short);

    const deep = join(
      scratch,
      'x'.repeat(80),
      'experiments',
      'e'.repeat(40),
      'work',
      '.peragus',
      'node.sock',
    );
    const endpoint = endpointFor(deep);
    expect(Buffer.byteLength(endpoint)).toBeLessThan(108);
    expect(readlinkSync(endpoint)).toBe(deep);
    expect(endpointFor(deep)).toBe(endpoint); // stable
    releaseEndpoint(endpoint, deep);
    expect(() => lstatSync(endpoint)).toThrow();
  });
});

describe('spec validation', () => {
  it('parses memory sizes', () => {
    expect(parseMemory('512m')).toBe(512 * 2 ** 20);
    expect(parseMemory('2g')).toBe(2 * 2 ** 30);
    expect(parseMemory('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseMemory(1_000_000)).toBe(1_000_000);
    expect(() => parseMemory('lots')).toThrow(/not a size/);
  });

  it('rejects bad specs', () => {
    expect(ContainerSpecSchema.safeParse({ experiment_id: '../x' }).success).toBe(false);
    expect(ContainerSpecSchema.safeParse({ resources: { memory: '1m' } }).success).toBe(false);
    expect(ContainerSpecSchema.safeParse({ resources: { cpu: -1 } }).success).toBe(false);
    expect(ContainerSpecSchema.safeParse({ labels: { 'peragus.experiment_id': 'x' } }).success).toBe(false);
    expect(ContainerSpecSchema.safeParse({ env: { 'BAD-NAME': 'x' } }).success).toBe(false);
    expect(ContainerSpecSchema.safeParse({ unknown: 1 }).success).toBe(false);
    expect(
      ContainerSpecSchema.safeParse({ image: 'i', resources: { cpu: 0.5, memory: '256m' }, env: { A: '1' } })
        .success,
    ).toBe(true);
  });
});

describe('DockerRuntime without a daemon', () => {
  it('reports a dead daemon with the socket and how to start it', async () => {
    const socketPath = join(scratch, 'no-daemon.sock');
    const rt = new DockerRuntime({ docker: new Docker({ socketPath }), home: scratch });
    const err = await rt.create({ image: 'anything' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContainerRuntimeError);
    expect((err as ContainerRuntimeError).code).toBe('daemon_unavailable');
    expect((err as Error).message).toContain(socketPath);
    expect((err as Error).message).toMatch(/dockerd/);
    await expect(rt.list()).rejects.toMatchObject({ code: 'daemon_unavailable' });
    // destroy stays idempotent only for unknown ids; an unreachable daemon is still an error.
    await expect(rt.destroy('abc123')).rejects.toMatchObject({ code: 'daemon_unavailable' });
  });

  it('rejects an invalid spec before touching the daemon', async () => {
    const rt = new DockerRuntime({
      docker: new Docker({ socketPath: join(scratch, 'none.sock') }),
      home: scratch,
    });
    await expect(rt.create({ resources: { memory: 'huge' } })).rejects.toMatchObject({
      code: 'invalid_spec',
    });
  });
});
