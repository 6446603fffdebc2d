// The registry server (`berth registry serve`): OCI Distribution Spec v1.1 over filesystem storage.
export type { Access } from './auth.js';
export type {
  AuthConfig,
  CliFlags,
  LimitsConfig,
  RegistryConfig,
  TlsConfig,
  TokenAuthConfig,
} from './config.js';
export { configFromFlags, loadConfigFile, parseConfigText } from './config.js';
export type { RegistryErrorCode } from './errors.js';
export { RegistryError } from './errors.js';
export { type GcOptions, type GcReport, garbageCollect } from './gc.js';
export { type RunningRegistry, startRegistry } from './server.js';
