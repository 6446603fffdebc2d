// The registry client: auth challenges (Basic, bearer tokens), credentials as the docker CLI keeps them,
// pull and push with Docker's progress messages, manifest lists and platform selection.
export {
  CredentialStore,
  configKey,
  DOCKER_HUB_KEY,
  decodeRegistryAuth,
  normalizeAuth,
  type RegistryAuth,
} from './credentials.js';
export { formatPlatform, parsePlatform } from './manifests.js';
export {
  Distribution,
  type DistributionInspect,
  type DistributionOptions,
  loginHost,
  type Progress,
  type PullOptions,
  type PullResult,
  type PushOptions,
  type PushResult,
} from './service.js';
export { type Challenge, parseChallenges, RegistryRequestError, registryBase } from './session.js';
