export { createMonitor, type MonitorDeps } from './server.js';
export {
  OperatorKeyStore,
  OPERATOR_ROLES,
  type Operator,
  type OperatorRole,
} from './operator-keys.js';
