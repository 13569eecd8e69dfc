export { main, USAGE } from './main.js';
export { startWww, startDns, loadZones, type Appliance } from './appliances.js';
export { openBackend, parseHostPort, UsageError, NETS, type Net, type Backend, type BackendOptions } from './backend.js';
export { startUsernet, parseForward, type Forward, type Usernet, type UsernetOptions } from './usernet.js';
export { createMemoryLinkPair, memoryLinkMacs, type MemoryLinkOptions } from './memory-link.js';
export { createFolderSource } from './fs-source.js';
export { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.js';
