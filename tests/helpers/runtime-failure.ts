// A runtime call that must fail: resolves to its ContainerRuntimeError (for the test to check its
// code and message), and fails the test when the call succeeds or fails with another error.
import { expect } from 'vitest';
import { ContainerRuntimeError } from '../../notebook-server/src/runtime/types.ts';

export async function runtimeFailure(p: Promise<unknown>): Promise<ContainerRuntimeError> {
  const err = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ContainerRuntimeError);
  return err as ContainerRuntimeError;
}
