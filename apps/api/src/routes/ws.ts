import type { FastifyPluginCallback } from 'fastify';
import type { WebSocket } from 'ws';
import { ClientConnection } from '../ws-connection.js';
import type { AppContext } from '../context.js';

/** `GET /api/ws`: authenticated before the upgrade; one ping timer for all clients. */
export function wsRoutes(ctx: AppContext): FastifyPluginCallback {
  return (app, _options, done) => {
    const connections = new Map<WebSocket, ClientConnection>();
    const timer = setInterval(() => {
      for (const [socket, connection] of connections) {
        if (!connection.alive) {
          // No pong since the last ping: the peer is gone or stuck; free its resources.
          ctx.metrics.wsDisconnects.inc({ reason: 'ping_timeout' });
          connection.dispose();
          connections.delete(socket);
          socket.terminate();
          continue;
        }
        connection.alive = false;
        socket.ping();
      }
    }, ctx.wsPingIntervalMs);
    timer.unref();
    app.addHook('onClose', (_instance, hookDone) => {
      clearInterval(timer);
      for (const socket of connections.keys()) socket.terminate();
      hookDone();
    });

    app.get('/api/ws', { websocket: true, preValidation: ctx.authenticate }, (socket, request) => {
      const connection = new ClientConnection(socket, {
        customerId: request.customerId,
        hub: ctx.hub,
        redis: ctx.redis,
        queue: ctx.queue,
        streamKey: ctx.streamKey,
        maxBufferedBytes: ctx.wsMaxBufferedBytes,
        onSent: () => ctx.metrics.wsEvents.inc(),
        onSlow: () => ctx.metrics.wsDisconnects.inc({ reason: 'slow_consumer' }),
        log: request.log,
      });
      connections.set(socket, connection);
      socket.on('close', () => connections.delete(socket));
    });
    done();
  };
}
