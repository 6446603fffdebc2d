// The registry server (`berth registry serve`): OCI Distribution Spec v1.1 over filesystem storage.
//
// Endpoints: /v2/ (API version check, auth challenge), /v2/_catalog, /v2/<name>/tags/list,
// /v2/<name>/manifests/<ref>, /v2/<name>/blobs/<digest>, /v2/<name>/blobs/uploads/[<uuid>],
// /v2/<name>/referrers/<digest>; /token (token auth only: issues JWTs after htpasswd basic auth);
// /healthz (alias /debug/health, unauthenticated: 200 {} while the storage root is reachable).
// Errors use the spec's body {"errors":[{code,message,detail}]}. Locations are relative URLs.
// Garbage collection (`garbageCollect`, `berth registry gc`) must run while the server is stopped.
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
