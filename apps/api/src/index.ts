export { createServer, type ServerDeps, type ServerOptions, type ApiQueue } from './server.js';
export { loadConfig, ConfigError, type ApiConfig } from './config.js';
export { ApiKeyStore, type CreatedKey } from './auth.js';
export { apiRedisKeys, type ApiRedisKeys } from './redis-keys.js';
export { checkLibrary, type LibraryHealth } from './library-health.js';
