// Layers: apply (tar → directory), diff (directory → tar), chain IDs, the layer store and overlay snapshots.
export { type ApplyOptions, type ApplyResult, applyLayer } from './apply.js';
export { chainId, chainIds } from './chain.js';
export { type Compression, decompress, detectCompression } from './compression.js';
export { type TarOptions, type TarResult, tarDirectory } from './diff.js';
export { ParallelGzip } from './pgzip.js';
export { cleanEntryName } from './safe-path.js';
export { mountOverlay, unmount } from './snapshots.js';
export {
  type LayerFill,
  type LayerInfo,
  LayerStore,
  type PrestagedLayer,
  type UnpackedLayer,
} from './store.js';
