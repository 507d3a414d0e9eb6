// The warm pool's bookkeeping (runtime/docker-pool.ts) on its own: how many
// entries it keeps, that an entry is handed out once, that dead entries are
// dropped, and that drain leaves nothing. The Docker side of the same
// behaviour is in docker-pool.test.ts.
import { describe, expect, it } from 'vitest';
import { DockerPool, type PoolEntry, poolSizeFrom } from '../../notebook-server/src/runtime/docker-pool.ts';

function fakePool(size: number, dead = new Set<string>(), refillDelayMs = 0) {
  let n = 0;
  const discarded: string[] = [];
  const fillStarts: number[] = [];
  const pool = new DockerPool(size, {
    refillDelayMs,
    fill: async () => {
      fillStarts.push(performance.now());
      await new Promise((r) => setTimeout(r, 5));
      n += 1;
      return {
        container_id: `c${n}`,
        pool_id: `p${n}`,
        root: `/r${n}`,
        endpoint: `/e${n}`,
      } satisfies PoolEntry;
    },
    alive: async (e) => !dead.has(e.container_id),
    discard: async (e) => {
      discarded.push(e.container_id);
    },
  });
  return { pool, discarded, filled: () => n, fillStarts };
}

describe('DockerPool', () => {
  it('keeps at most min(size, creates still expected) entries', async () => {
    const { pool, filled } = fakePool(3);
    pool.expect(2);
    expect(await pool.whenReady()).toBe(2);
    expect((await pool.take())?.container_id).toBe('c1');
    pool.consumed();
    expect(await pool.whenReady()).toBe(1); // one create left: no refill past it
    expect(filled()).toBe(2);
    pool.expect(Number.POSITIVE_INFINITY);
    expect(await pool.whenReady()).toBe(3);
    await pool.drain();
  });

  it('refills after a hand-over once the delay has passed: one wait for a burst of hand-overs', async () => {
    const { pool, fillStarts } = fakePool(2, new Set(), 200);
    expect(await pool.whenReady()).toBe(2);
    const handedAt = performance.now();
    expect([(await pool.take())?.container_id, (await pool.take())?.container_id]).toEqual(['c1', 'c2']);
    await new Promise((r) => setTimeout(r, 100));
    expect(fillStarts).toHaveLength(2); // nothing refilled while the hand-overs are young
    await new Promise((r) => setTimeout(r, 250));
    expect(fillStarts).toHaveLength(4); // then both slots, one after the other
    expect((fillStarts[2] as number) - handedAt).toBeGreaterThanOrEqual(190);
    expect(pool.readyCount).toBe(2);
    await pool.drain();
  });

  it('hands each entry out once, also to concurrent takers', async () => {
    const { pool } = fakePool(4);
    pool.expect(Number.POSITIVE_INFINITY);
    await pool.whenReady();
    const taken = await Promise.all(Array.from({ length: 6 }, () => pool.take()));
    const ids = taken.filter(Boolean).map((e) => e!.container_id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(taken.filter((e) => e === undefined)).toHaveLength(2);
    await pool.drain();
  });

  it('discards a dead entry and hands over the next live one', async () => {
    const dead = new Set(['c1']);
    const { pool, discarded } = fakePool(2, dead);
    pool.expect(Number.POSITIVE_INFINITY);
    await pool.whenReady();
    expect((await pool.take())?.container_id).toBe('c2');
    expect(discarded).toEqual(['c1']);
    await pool.drain();
  });

  it('drain waits for a fill under way and discards every entry left', async () => {
    const { pool, discarded, filled } = fakePool(2);
    pool.expect(Number.POSITIVE_INFINITY);
    await pool.drain(); // called while the first fill runs
    expect(discarded.sort()).toEqual(Array.from({ length: filled() }, (_, i) => `c${i + 1}`));
    expect(await pool.take()).toBeUndefined();
    expect(pool.readyCount).toBe(0);
  });

  it('reads PERAGUS_DOCKER_POOL and refuses nonsense with the fix', () => {
    expect(poolSizeFrom({})).toBe(2);
    expect(poolSizeFrom({ PERAGUS_DOCKER_POOL: '0' })).toBe(0);
    expect(() => poolSizeFrom({ PERAGUS_DOCKER_POOL: 'many' })).toThrow(
      /PERAGUS_DOCKER_POOL="many".*0 \(off\) to 64/,
    );
  });
});
