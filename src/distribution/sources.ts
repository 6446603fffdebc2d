// Which repositories of which registry a blob is known to be in (from pulls and pushes), so a push
// can ask the registry to mount it from there instead of uploading it again.
import { readFile } from 'node:fs/promises';
import { writeJsonAtomic } from '../util/index.js';

export class BlobSources {
  private map = new Map<string, string[]>();
  private loaded = false;
  private writing: Promise<void> = Promise.resolve();
  constructor(private readonly file: string | undefined) {}

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    if (!this.file) return;
    try {
      const v = JSON.parse(await readFile(this.file, 'utf8')) as Record<string, string[]>;
      for (const [k, list] of Object.entries(v)) if (Array.isArray(list)) this.map.set(k, list.slice(-5));
    } catch {}
  }

  async add(host: string, repo: string, digests: string[]): Promise<void> {
    await this.load();
    for (const d of digests) {
      const list = (this.map.get(d) ?? []).filter((s) => s !== `${host}/${repo}`);
      list.push(`${host}/${repo}`);
      this.map.set(d, list.slice(-5));
    }
    const file = this.file;
    if (!file) return;
    const snapshot = Object.fromEntries(this.map);
    this.writing = this.writing.then(() => writeJsonAtomic(file, snapshot).catch(() => {}));
    await this.writing;
  }

  /** Other repositories of `host` known to hold the blob, most recent first. */
  async others(host: string, repo: string, digest: string): Promise<string[]> {
    await this.load();
    return (this.map.get(digest) ?? [])
      .filter((s) => s.startsWith(`${host}/`) && s !== `${host}/${repo}`)
      .map((s) => s.slice(host.length + 1))
      .reverse();
  }
}
