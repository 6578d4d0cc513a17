export { HttpFake, type FakeReply, type RecordedRequest, type ReplyFn } from './http-fake.js';
export {
  startFakeOpenAI,
  openaiReplies,
  type FakeOpenAI,
  type FakeOpenAIOptions,
} from './fake-openai.js';
export {
  startFakeComfyUI,
  type ComfyScript,
  type FakeComfyUI,
  type FakeComfyUIOptions,
} from './fake-comfyui.js';
export { TINY_PNG } from './png.js';
export {
  startWebhookReceiver,
  type ReceiverMode,
  type ReceivedWebhook,
  type WebhookBody,
  type WebhookReceiver,
} from './webhook-receiver.js';
export {
  startOtlpReceiver,
  type OtlpReceiver,
  type OtlpReceiverOptions,
  type ReceivedSpan,
  type ReceivedSpanEvent,
  type ReceivedMetricPoint,
  type OtlpRequestRecord,
  type OtlpValue,
} from './otlp-receiver.js';
