// The registry lives in @jobgate/core so the API, the monitor and `ops` read what workers write.
export {
  cancelDrain,
  requestDrain,
  UnknownWorkerError,
  type DrainRequest,
  listWorkers,
  readWorkers,
  registryKeys,
  WorkerRegistry,
  type LostWorker,
  type WorkerRecord,
  type WorkerStatus,
} from '@jobgate/core';
