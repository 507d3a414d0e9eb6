// Opens the DuckDB catalog file (<home>/catalog.duckdb) inside a sandbox and
// owns its connections.
//
// Sandbox: the instance can only touch files under <home>/store/ and
// <home>/results/ (besides its own database file), cannot install or load
// extensions, and its configuration is locked, so SQL run on any connection
// (including user SQL from catalog_query) cannot undo it.
//
// Concurrency: DuckDB lets one process hold a database file read-write. The
// host server opens it read-write and keeps it open; writes go through one
// writer connection serialised by a mutex. Another process (the CLI) can only
// open it READ_ONLY, and only while no server holds it; otherwise opening
// fails with CatalogLockedError and the CLI must send the query to the server.
import { existsSync } from 'node:fs';
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { CatalogError, CatalogLockedError, errorMessage } from './errors.ts';
import { migrate, requireLatest } from './migrations.ts';

export interface OpenDbOptions {
  /** PERAGUS_HOME; created when missing (read-write only). */
  home: string;
  /** Open without the write lock, for a second process such as the CLI. */
  readOnly?: boolean;
  /** DuckDB worker threads (default 2: the host shares its cores with kernels). */
  threads?: number;
  /** DuckDB memory_limit, e.g. "1GB" (default). */
  memoryLimit?: string;
}

export type Row = Record<string, unknown>;

/** Serialises async sections: DuckDB transactions on one connection must not interleave. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

// Two instances on one file in one process would both believe they own it
// (file locks are per process), so a second open is refused.
const openFiles = new Set<string>();

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

export class CatalogDb {
  readonly #writeMutex = new Mutex();
  #closed = false;

  readonly #instance: DuckDBInstance;
  readonly #writer: DuckDBConnection | undefined;
  private constructor(
    readonly home: string,
    readonly file: string,
    readonly storeDir: string,
    readonly resultsDir: string,
    readonly readOnly: boolean,
    instance: DuckDBInstance,
    /** For the library's own reads: sees committed data only. */
    readonly reader: DuckDBConnection,
    writer: DuckDBConnection | undefined,
  ) {
    this.#instance = instance;
    this.#writer = writer;
  }

  static async open(options: OpenDbOptions): Promise<CatalogDb> {
    const readOnly = options.readOnly ?? false;
    if (!readOnly) await mkdir(options.home, { recursive: true });
    // The sandbox compares path prefixes, so use the real path (no symlinks).
    const home = await realpath(options.home).catch((err: unknown) => {
      throw new CatalogError('not_found', `PERAGUS_HOME ${options.home} does not exist`, { cause: err });
    });
    const file = join(home, 'catalog.duckdb');
    const storeDir = join(home, 'store');
    const resultsDir = join(home, 'results');
    if (readOnly && !existsSync(file)) {
      throw new CatalogError('not_found', `no catalog at ${file} yet (nothing has been registered)`);
    }
    if (openFiles.has(file)) {
      throw new CatalogError('catalog_locked', `the catalog ${file} is already open in this process`);
    }
    if (!readOnly) {
      await mkdir(storeDir, { recursive: true });
      await mkdir(resultsDir, { recursive: true });
    }

    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file, {
        access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE',
        threads: String(options.threads ?? 2),
      });
    } catch (err) {
      const msg = errorMessage(err);
      if (/Could not set lock|Conflicting lock/i.test(msg)) {
        const pid = /PID (\d+)/.exec(msg)?.[1];
        throw new CatalogLockedError(file, pid === undefined ? undefined : Number(pid), err);
      }
      const fix = /not a valid DuckDB database|corrupt|Invalid Input|checksum/i.test(msg)
        ? `; the file is damaged or not a catalog: move it aside (mv ${file} ${file}.bad) and start again to create a fresh catalog, or restore it from a backup`
        : '';
      throw new CatalogError('catalog_unavailable', `cannot open the catalog ${file}: ${msg}${fix}`, {
        cause: err,
      });
    }
    openFiles.add(file);
    try {
      const setup = await instance.connect();
      // Order matters: directories must be allowed before external access is turned off.
      await setup.run(`SET GLOBAL TimeZone = 'UTC'`);
      await setup.run(`SET GLOBAL memory_limit = ${sqlString(options.memoryLimit ?? '1GB')}`);
      await setup.run(
        `SET GLOBAL allowed_directories = [${sqlString(`${storeDir}/`)}, ${sqlString(`${resultsDir}/`)}]`,
      );
      // Stored Parquet files never change (content-addressed), so their footers can be cached.
      await setup.run('SET GLOBAL parquet_metadata_cache = true');
      await setup.run('SET GLOBAL enable_external_access = false');
      await setup.run('SET GLOBAL autoinstall_known_extensions = false');
      await setup.run('SET GLOBAL autoload_known_extensions = false');
      await setup.run('SET GLOBAL allow_community_extensions = false');
      await setup.run('SET GLOBAL lock_configuration = true');
      if (readOnly) await requireLatest(setup);
      else await migrate(setup);
      setup.closeSync();
      const reader = await instance.connect();
      const writer = readOnly ? undefined : await instance.connect();
      return new CatalogDb(home, file, storeDir, resultsDir, readOnly, instance, reader, writer);
    } catch (err) {
      instance.closeSync();
      openFiles.delete(file);
      throw err;
    }
  }

  /** A fresh connection (for user queries: each can be interrupted on its own). */
  connect(): Promise<DuckDBConnection> {
    this.#assertOpen();
    return this.#instance.connect();
  }

  /**
   * Runs `fn` in one transaction on the writer connection; writes are
   * serialised, and any error rolls the whole transaction back.
   */
  write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const writer = this.#writer;
    if (!writer) {
      throw new CatalogError('read_only', 'the catalog was opened read-only (another process owns it)');
    }
    return this.#writeMutex.run(async () => {
      await writer.run('BEGIN TRANSACTION');
      try {
        const result = await fn(writer);
        await writer.run('COMMIT');
        return result;
      } catch (err) {
        await writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Rows as plain objects (JS values) from the reader connection. */
  async rows(sql: string, params?: DuckDBValue[]): Promise<Row[]> {
    this.#assertOpen();
    return (await this.reader.runAndReadAll(sql, params)).getRowObjectsJS() as Row[];
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reader.closeSync();
    this.#writer?.closeSync();
    this.#instance.closeSync();
    openFiles.delete(this.file);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CatalogError('invalid_input', 'the catalog is closed');
  }
}
