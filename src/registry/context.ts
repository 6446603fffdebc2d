// What every handler gets: the request, the response, the parsed URL and the registry's parts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthContext, Authenticator } from './auth.js';
import type { ResolvedLimits } from './config.js';
import type { Storage } from './storage.js';
import type { Uploads } from './uploads.js';

export interface RegistryParts {
  storage: Storage;
  uploads: Uploads;
  auth: Authenticator | null;
  limits: ResolvedLimits;
  deleteEnabled: boolean;
  log?: (line: string) => void;
}

export interface RequestContext extends RegistryParts {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  authCtx: AuthContext;
}
