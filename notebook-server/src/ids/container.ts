// Container references (Docker/Swarm ids, short ids, names and local ids),
// defined once: dockerode splices them into API URLs and the local runtime
// into file names, so anything outside this alphabet is "not found".
export const CONTAINER_REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isContainerRef(id: unknown): id is string {
  return typeof id === 'string' && CONTAINER_REF_PATTERN.test(id);
}
