// Chain IDs as the OCI image spec defines them: ChainID(L0) = DiffID(L0),
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
import { sha256 } from '../util/index.js';

export function chainId(parent: string | null, diffId: string): string {
  return parent ? sha256(`${parent} ${diffId}`) : diffId;
}

/** Chain IDs of every prefix of `diffIds` (the last is the top layer's). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  let parent: string | null = null;
  for (const d of diffIds) {
    parent = chainId(parent, d);
    out.push(parent);
  }
  return out;
}
