export { launchApp, type AppProcess, type LaunchAppOptions } from './app-process.js';
export { Stack, type StackOptions, type StartOptions } from './stack.js';
export {
  STACK_SERVICES,
  DEV_SERVICES,
  type ServiceContext,
  type ServiceDefinition,
} from './services.js';
