// The stream half of the package without the OpenTelemetry SDK: what the API and the webhook
// service import, so their bundles need none of the SDK's packages at run time.
export {
  EVENT_TYPES,
  TERMINAL_EVENT_TYPES,
  isEventType,
  failureSchema,
  eventDataShapes,
  eventSchemas,
  strictEventSchemas,
  queueEventSchema,
  type EventType,
  type QueueEvent,
  type QueueEventOf,
  type JobFailure,
} from './events.js';
export {
  parseStreamEntry,
  matchesFilter,
  splitList,
  eventFilterSchema,
  EventDecoder,
  type DropReason,
  type ParseResult,
  type StreamFields,
  type EventFilter,
  type DecoderCounts,
  type EventDecoderOptions,
} from './parse.js';
