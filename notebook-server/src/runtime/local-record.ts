// The local runtime's container records: one JSON file per live container under
// <home>/local-containers, so any host process on the same home finds, inspects and destroys it.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isContainerRef } from '../ids/index.ts';
import { isSameProcess } from '../proc/process.ts';
import { SandboxCgroups } from './local-cgroups.ts';
import { writeStateFile } from './state-file.ts';
import { type ContainerInfo, ContainerRuntimeError } from './types.ts';

export interface LocalRecord {
  container_id: string;
  experiment_id: string;
  pid: number;
  /** When that process started (proc/process.ts processStart): a reused pid is not it. */
  pid_start?: number;
  work_dir: string;
  socket_path: string;
  endpoint: string;
  log_dir: string;
  labels: Record<string, string>;
  created_at: string;
  env: Record<string, string>;
  /** Registered with this runtime's kernel zygote (revoked on destroy). */
  zygote?: boolean;
  /** The host process that serves its sessions itself (no node process in its sandbox). */
  host_pid?: number;
  /** Its cgroups (CPU, memory and pids caps), by hierarchy. */
  cgroups?: SandboxCgroups['dirs'];
}

export class LocalRegistry {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  #file(id: string): string | undefined {
    const file = join(this.#dir, `${id}.json`);
    return isContainerRef(id) && existsSync(file) ? file : undefined;
  }

  /** The record of a container, or undefined when there is none. */
  find(id: string): LocalRecord | undefined {
    const file = this.#file(id);
    return file ? (JSON.parse(readFileSync(file, 'utf8')) as LocalRecord) : undefined;
  }

  /** The record of a container; a clear error when there is none. */
  get(id: string): LocalRecord {
    const rec = this.find(id);
    if (!rec) {
      throw new ContainerRuntimeError(
        'not_found',
        `no container "${id}": container_list shows the live ones`,
      );
    }
    return rec;
  }

  /**
   * Atomic (renamed into place) but not flushed: a record names live processes of this machine,
   * and whatever loses unflushed writes (a power cut, the kernel's crash) ends those processes
   * too. A host that dies leaves the page cache, so another host still reads the record.
   */
  save(rec: LocalRecord): void {
    writeStateFile(join(this.#dir, `${rec.container_id}.json`), JSON.stringify(rec, null, 2), {
      sync: false,
    });
  }

  remove(id: string): void {
    const file = this.#file(id);
    if (file) rmSync(file, { force: true });
  }

  /** Every readable record (a half-written or foreign file is skipped). */
  all(): LocalRecord[] {
    const records: LocalRecord[] = [];
    for (const f of readdirSync(this.#dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        records.push(JSON.parse(readFileSync(join(this.#dir, f), 'utf8')) as LocalRecord);
      } catch {
        // skipped
      }
    }
    return records;
  }
}

/** Whether the container's first process still runs (that very process, not a later one with its pid). */
export function isRunning(rec: LocalRecord): boolean {
  return isSameProcess(rec.pid, rec.pid_start);
}

/** A container's cgroups, from its record. */
export function groupsOf(rec: LocalRecord): SandboxCgroups | undefined {
  return rec.cgroups ? SandboxCgroups.fromRecord(rec.cgroups) : undefined;
}

/** The last `lines` lines of a log file ("" when it does not exist). */
export function tailFile(path: string, lines: number): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** What list() tells of a container (a local one runs the image "local"). */
export function containerInfo(rec: LocalRecord): ContainerInfo {
  const running = isRunning(rec);
  return {
    container_id: rec.container_id,
    experiment_id: rec.experiment_id,
    name: rec.container_id,
    image: 'local',
    status: running ? 'running' : 'exited',
    running,
    created_at: rec.created_at,
    labels: rec.labels,
    endpoint: rec.endpoint,
    work_dir: rec.work_dir,
  };
}
