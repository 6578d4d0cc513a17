import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { HttpFake, type FakeReply, type RecordedRequest } from './http-fake.js';
import { TINY_PNG } from './png.js';

/** How one submitted prompt runs. Defaults: 4 sampler steps, 5 ms apart, one output image. */
export interface ComfyScript {
  steps?: number;
  stepDelayMs?: number;
  images?: number;
  /** End with `execution_error` from this node instead of success (e.g. CUDA out of memory). */
  fail?: {
    exception_type: string;
    exception_message: string;
    node_type?: string;
    node_id?: string;
  };
  /** Never finish (until interrupted or the fake closes): for job-timeout and shutdown tests. */
  neverFinish?: boolean;
  /** Close the client's websocket after this many progress steps (the connector must fall back to /history). */
  dropWebsocketAfterStep?: number;
  /** Report success but list an output image that /view does not serve. */
  missingOutput?: boolean;
}

export interface FakeComfyUIOptions {
  /** Refuse websocket upgrades, as a ComfyUI behind a proxy without websocket support does. */
  websocket?: boolean;
}

interface PromptState {
  id: string;
  clientId: string | undefined;
  script: ComfyScript;
  done: boolean;
  interrupted: boolean;
  history: Record<string, unknown> | undefined;
}

export interface FakeComfyUI extends AsyncDisposable {
  origin: string;
  requests: RecordedRequest[];
  /** The next submitted prompts run these scripts, in order (then the default). */
  enqueuePrompt(...scripts: ComfyScript[]): void;
  /** Script raw HTTP replies of a route, e.g. `enqueue('POST /prompt', { status: 503, text: 'down' })`. */
  enqueue(route: string, ...replies: FakeReply[]): void;
  requestsTo(route: string): RecordedRequest[];
  /** Prompt ids in submission order. */
  prompts(): string[];
  /** Websocket clients currently connected. */
  websocketClients(): number;
  close(): Promise<void>;
}

const send = (ws: WebSocket | undefined, type: string, data: Record<string, unknown>): void => {
  if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type, data }));
};

/**
 * A ComfyUI as its HTTP API behaves: `POST /prompt` -> `{ prompt_id, number, node_errors }`,
 * `GET /history/{id}` (`{}` until done), `GET /view?filename=&subfolder=&type=` for output bytes,
 * `GET /queue`, `GET /system_stats`, `POST /interrupt`, and `ws /ws?clientId=` with `status`,
 * `execution_start`, `executing`, `progress`, `executed`, `execution_success`/`execution_error`.
 */
export async function startFakeComfyUI(options: FakeComfyUIOptions = {}): Promise<FakeComfyUI> {
  const fake = new HttpFake('comfyui');
  const scripts: ComfyScript[] = [];
  const prompts = new Map<string, PromptState>();
  const order: string[] = [];
  const outputs = new Set<string>();
  const clients = new Map<string, WebSocket>();
  const wss = new WebSocketServer({ noServer: true });
  let counter = 0;
  let closed = false;

  fake.server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', fake.origin);
    if (options.websocket === false || url.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get('clientId') ?? randomUUID().replaceAll('-', '');
      clients.set(clientId, ws);
      ws.on('close', () => {
        if (clients.get(clientId) === ws) clients.delete(clientId);
      });
      send(ws, 'status', {
        status: {
          exec_info: { queue_remaining: [...prompts.values()].filter((p) => !p.done).length },
        },
        sid: clientId,
      });
    });
  });

  const finish = (
    state: PromptState,
    status: 'success' | 'error',
    messages: unknown[],
    nodeOutputs: Record<string, unknown>,
  ): void => {
    state.done = true;
    state.history = {
      [state.id]: {
        prompt: [counter, state.id, {}, { client_id: state.clientId }, ['9']],
        outputs: nodeOutputs,
        status: { status_str: status, completed: status === 'success', messages },
        meta: {},
      },
    };
  };

  const run = async (state: PromptState): Promise<void> => {
    const { script, id } = state;
    const ws = (): WebSocket | undefined =>
      state.clientId ? clients.get(state.clientId) : undefined;
    const steps = script.steps ?? 4;
    const delay = script.stepDelayMs ?? 5;
    const messages: unknown[] = [['execution_start', { prompt_id: id, timestamp: Date.now() }]];
    send(ws(), 'execution_start', { prompt_id: id, timestamp: Date.now() });
    send(ws(), 'execution_cached', { nodes: [], prompt_id: id, timestamp: Date.now() });
    send(ws(), 'executing', { node: '3', display_node: '3', prompt_id: id });
    for (let step = 1; ; step++) {
      if (closed) return;
      if (state.interrupted) {
        const data = {
          prompt_id: id,
          node_id: '3',
          node_type: 'KSampler',
          executed: [],
          timestamp: Date.now(),
        };
        messages.push(['execution_interrupted', data]);
        send(ws(), 'execution_interrupted', data);
        finish(state, 'error', messages, {});
        return;
      }
      if (!script.neverFinish && step > steps) break;
      await fake.sleep(delay);
      send(ws(), 'progress', {
        value: Math.min(step, steps),
        max: steps,
        prompt_id: id,
        node: '3',
      });
      if (script.dropWebsocketAfterStep === step) ws()?.terminate();
    }
    if (script.fail) {
      const data = {
        prompt_id: id,
        node_id: script.fail.node_id ?? '3',
        node_type: script.fail.node_type ?? 'KSampler',
        executed: [],
        exception_message: script.fail.exception_message,
        exception_type: script.fail.exception_type,
        traceback: [
          '  File "/comfyui/execution.py", line 323, in execute\n',
          '    output_data, output_ui, has_subgraph = get_output_data(obj, input_data_all)\n',
        ],
        current_inputs: {},
        current_outputs: {},
        timestamp: Date.now(),
      };
      messages.push(['execution_error', data]);
      send(ws(), 'execution_error', data);
      finish(state, 'error', messages, {});
      return;
    }
    const images = Array.from({ length: script.images ?? 1 }, (_, i) => ({
      filename: `ComfyUI_${String(++counter).padStart(5, '0')}_${i}.png`,
      subfolder: '',
      type: 'output',
    }));
    if (!script.missingOutput) for (const image of images) outputs.add(image.filename);
    send(ws(), 'executing', { node: '9', display_node: '9', prompt_id: id });
    send(ws(), 'executed', { node: '9', display_node: '9', output: { images }, prompt_id: id });
    messages.push(['execution_success', { prompt_id: id, timestamp: Date.now() }]);
    finish(state, 'success', messages, { '9': { images } });
    send(ws(), 'execution_success', { prompt_id: id, timestamp: Date.now() });
    send(ws(), 'executing', { node: null, prompt_id: id });
  };

  fake.route('POST', '/prompt', (req) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as {
      prompt?: unknown;
      client_id?: unknown;
      prompt_id?: unknown;
    };
    if (!body.prompt || typeof body.prompt !== 'object' || Array.isArray(body.prompt)) {
      return {
        status: 400,
        json: {
          error: {
            type: 'invalid_prompt',
            message: 'Cannot execute because the prompt is not a valid workflow graph.',
            details: '',
            extra_info: {},
          },
          node_errors: {},
        },
      };
    }
    // Like ComfyUI's server.py, a client's own `prompt_id` is kept.
    const id =
      typeof body.prompt_id === 'string' && body.prompt_id !== '' ? body.prompt_id : randomUUID();
    const state: PromptState = {
      id,
      clientId: typeof body.client_id === 'string' ? body.client_id : undefined,
      script: scripts.shift() ?? {},
      done: false,
      interrupted: false,
      history: undefined,
    };
    prompts.set(id, state);
    order.push(id);
    setImmediate(() => void run(state));
    return { status: 200, json: { prompt_id: id, number: order.length, node_errors: {} } };
  });

  fake.route('GET', '/history/:id', (_req, params) => ({
    json: prompts.get(params.id ?? '')?.history ?? {},
  }));
  fake.route('GET', '/history', () => ({
    json: Object.assign({}, ...[...prompts.values()].map((p) => p.history ?? {})) as unknown,
  }));
  fake.route('GET', '/view', (req) => {
    const filename = req.query.get('filename') ?? '';
    if (!outputs.has(filename) || req.query.get('type') !== 'output')
      return { status: 404, text: '404: Not Found' };
    return { status: 200, headers: { 'content-type': 'image/png' }, bytes: TINY_PNG };
  });
  fake.route('GET', '/queue', () => ({
    json: {
      queue_running: [...prompts.values()]
        .filter((p) => !p.done)
        .slice(0, 1)
        .map((p) => [0, p.id, {}, {}, []]),
      queue_pending: [...prompts.values()]
        .filter((p) => !p.done)
        .slice(1)
        .map((p, i) => [i + 1, p.id, {}, {}, []]),
    },
  }));
  fake.route('GET', '/system_stats', () => ({
    json: {
      system: {
        os: 'posix',
        python_version: '3.11.9',
        comfyui_version: '0.3.40',
        embedded_python: false,
      },
      devices: [
        {
          name: 'cuda:0 NVIDIA L4 : cudaMallocAsync',
          type: 'cuda',
          index: 0,
          vram_total: 23_580_639_232,
          vram_free: 22_000_000_000,
        },
      ],
    },
  }));
  fake.route('POST', '/interrupt', () => {
    for (const state of prompts.values()) if (!state.done) state.interrupted = true;
    return { status: 200, text: '' };
  });

  await fake.listen();
  const close = async (): Promise<void> => {
    closed = true;
    for (const ws of clients.values()) ws.terminate();
    wss.close();
    await fake.close();
  };
  return {
    origin: fake.origin,
    requests: fake.requests,
    enqueuePrompt: (...s) => void scripts.push(...s),
    enqueue: (route, ...replies) => fake.enqueue(route, ...replies),
    requestsTo: (route) => fake.requestsTo(route),
    prompts: () => [...order],
    websocketClients: () => clients.size,
    close,
    [Symbol.asyncDispose]: close,
  };
}
