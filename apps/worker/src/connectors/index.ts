export {
  ConnectorError,
  JobTimeoutError,
  type Connector,
  type ConnectorContext,
  type ProgressUpdate,
} from './types.js';
export { createSimulationConnector } from './simulation.js';
export { createOpenAIConnector, type OpenAIConnectorOptions } from './openai.js';
export { createComfyUIConnector, type ComfyUIConnectorOptions } from './comfyui.js';
// The payload schemas live in @jobgate/core, where the API checks payloads at submit too.
export {
  simulationPayloadSchema,
  openaiPayloadSchema,
  comfyPayloadSchema,
  type SimulationPayload,
} from '@jobgate/core';
