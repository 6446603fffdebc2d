// The in-memory index of container records, backed by one JSON file per container.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, conflict, notFound, tempPathFor, writeJsonAtomic } from '../util/index.js';
import type { ContainerRecord } from './record.js';

export const RECORD_FILE = 'container.json';

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly byName = new Map<string, string>();

  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /** Loads every record on disk; a directory without a readable record is half-created and returned for cleanup. */
  async load(): Promise<{ broken: string[] }> {
    await mkdir(this.root, { recursive: true });
    const broken: string[] = [];
    for (const id of await readdir(this.root)) {
      try {
        const record = JSON.parse(
          await readFile(join(this.root, id, RECORD_FILE), 'utf8'),
        ) as ContainerRecord;
        this.byId.set(record.Id, record);
        this.byName.set(record.Name, record.Id);
      } catch {
        broken.push(id);
      }
    }
    return { broken };
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** Docker's lookup order: full ID, exact name, then a unique ID prefix. */
  find(ref: string): ContainerRecord | undefined {
    const name = ref.replace(/^\//, '');
    const exact = this.byId.get(ref) ?? this.byId.get(this.byName.get(name) ?? '');
    if (exact) return exact;
    if (!/^[a-f0-9]+$/.test(ref)) return undefined;
    const matches = [...this.byId.keys()].filter((id) => id.startsWith(ref));
    if (matches.length > 1) throw badRequest(`multiple IDs found with provided prefix: ${ref}`);
    return matches.length === 1 ? this.byId.get(matches[0]!) : undefined;
  }

  get(ref: string): ContainerRecord {
    const record = ref ? this.find(ref) : undefined;
    if (!record) throw notFound(`No such container: ${ref}`);
    return record;
  }

  nameTaken(name: string): string | undefined {
    return this.byName.get(name);
  }

  /**
   * Reserves the name for the record (in memory; the caller's first save writes it: a crash before
   * that leaves a directory without a record, which load() reports as broken); 409 when the name is in use.
   */
  add(record: ContainerRecord): void {
    const holder = this.byName.get(record.Name);
    if (holder && holder !== record.Id) {
      throw conflict(
        `Conflict. The container name "/${record.Name}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byId.set(record.Id, record);
    this.byName.set(record.Name, record.Id);
  }

  /**
   * Writes the record (temp file + rename: a crash never leaves half of one). `durable: false` skips
   * the fsync, for state transitions: the state they describe lives in tmpfs (the runtime's state,
   * conmon's pid and exit files) and does not outlive a power loss anyway, so the flush would only
   * cost the start, exit or removal its latency.
   */
  async save(record: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    const path = join(this.dir(record.Id), RECORD_FILE);
    if (opts.durable !== false) return writeJsonAtomic(path, record);
    const tmp = tempPathFor(path);
    try {
      await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async rename(record: ContainerRecord, newName: string): Promise<void> {
    const holder = this.byName.get(newName);
    if (holder && holder !== record.Id) {
      throw conflict(
        `Conflict. The container name "/${newName}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.byName.delete(record.Name);
    record.Name = newName;
    this.byName.set(newName, record.Id);
    await this.save(record);
  }

  /** Drops the record from the index only (name free, lookups 404); its files stay until remove(). */
  forget(record: ContainerRecord): void {
    this.byId.delete(record.Id);
    if (this.byName.get(record.Name) === record.Id) this.byName.delete(record.Name);
  }

  /** Forgets the record and removes its directory (the caller has unmounted everything). */
  async remove(record: ContainerRecord): Promise<void> {
    this.forget(record);
    await rm(this.dir(record.Id), { recursive: true, force: true });
  }
}
