export {
  ConnectorError,
  JobTimeoutError,
  type Connector,
  type ConnectorContext,
  type ProgressUpdate,
} from './types.js';
export {
  createSimulationConnector,
  simulationPayloadSchema,
  type SimulationPayload,
} from './simulation.js';
export {
  createOpenAIConnector,
  openaiPayloadSchema,
  type OpenAIConnectorOptions,
} from './openai.js';
export {
  createComfyUIConnector,
  comfyPayloadSchema,
  type ComfyUIConnectorOptions,
} from './comfyui.js';
