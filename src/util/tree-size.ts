// The apparent size of a directory tree.
import { lstat, opendir } from 'node:fs/promises';
import { posix } from 'node:path';

/** Apparent size of a tree in bytes, hard links counted once (as Docker's directory.Size). */
export async function treeSize(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let d: Awaited<ReturnType<typeof opendir>>;
    try {
      d = await opendir(dir);
    } catch {
      return;
    }
    for await (const ent of d) {
      const p = posix.join(dir, ent.name);
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        await walk(p);
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += Number(st.size);
    }
  };
  await walk(root);
  return total;
}
