/**
 * The benchmark's OTLP receiver in a process of its own (`fork`ed with IPC): on a real deployment
 * the backend decodes spans elsewhere, so its decoding must not share the collector's event loop.
 * Sends `{ url }` once listening; answers `count` with `{ spans }` and `reset`.
 */
import { startOtlpReceiver } from '@jobgate/testkit';

const receiver = await startOtlpReceiver();
const send = (message: unknown): void => {
  process.send?.(message);
};
process.on('message', (message) => {
  // Only the count: the harness asks every 20 ms, and counting distinct span ids over the 40,000
  // spans of a run each time doubled the receiver's CPU per event (the bench never read it).
  if (message === 'count') send({ spans: receiver.spans.length });
  if (message === 'reset') {
    receiver.spans.length = 0;
    receiver.requests.length = 0;
    receiver.metricPoints.length = 0;
    send({ reset: true });
  }
  if (message === 'close') void receiver.close().then(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
send({ url: receiver.url });
