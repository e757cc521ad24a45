import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Slack's Web API (`POST /api/chat.postMessage`) and for Teams incoming webhooks
 * (`POST /teams/<anything>`), on a free loopback port. It checks every request as the real service
 * would (method, path, headers, body shape) and records each; a request that breaks the contract is
 * answered as the service would answer it and listed in `violations`, which a test expects empty. It
 * can be scripted (fail twice then succeed, hold a request open), and it dedupes by idempotency key the
 * way a careful receiver would, so "delivered exactly once" can be measured.
 */
export interface ChatStandin {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The Slack Web API base URL to give the worker. */
  slackApiUrl: string;
  /** A Teams webhook URL on the stand-in. */
  teamsUrl(name?: string): string;
  /** Every request, in arrival order. */
  readonly requests: StandinRequest[];
  /** Every broken expectation, as a sentence. */
  readonly violations: string[];
  /** The answers to the next requests of a channel, in order; after them, success. */
  script(channel: Channel, ...replies: Reply[]): void;
  /** Idempotency keys acknowledged as delivered (each once, however often it was sent). */
  delivered(channel?: Channel): string[];
  /** Answers every held request (success), and stops holding. */
  release(): void;
  /** Slack tokens it accepts (default: any `xoxb-` token): others get `invalid_auth`. */
  acceptTokens(tokens: readonly string[] | null): void;
  /** Forgets requests, scripts and violations. */
  reset(): void;
  close(): Promise<void>;
}

export type Channel = 'slack' | 'teams';

export interface Reply {
  /** An HTTP status other than 200 (Slack) or 202 (Teams), e.g. 500 or 429. */
  status?: number;
  /** Slack only: answer HTTP 200 `{ ok: false, error }`, e.g. `channel_not_found`. */
  slackError?: string;
  /** A Location header (with a 3xx status). */
  location?: string;
  /** A Retry-After header, in seconds. */
  retryAfter?: number;
  /** The raw body of a failure answer. */
  body?: string;
  /** Keep the request open, unanswered, until `release()` or until the client goes away. */
  hold?: boolean;
  /** Answer after this long. */
  delayMs?: number;
}

export interface StandinRequest {
  channel: Channel;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Slack: the form fields, `metadata` and `blocks` parsed; Teams: the JSON body. */
  body: any;
  /** The idempotency key it carried (Slack: in its metadata; Teams: the Idempotency-Key header). */
  key: string | null;
  /** When it arrived (ms since the epoch). */
  at: number;
  /**
   * `ok`: acknowledged as a first delivery; `duplicate`: acknowledged, its key already was;
   * `failed`: answered with a scripted failure; `rejected`: broke the contract; `aborted`: the client
   * went away before an answer; `held`: still open.
   */
  outcome: 'ok' | 'duplicate' | 'failed' | 'rejected' | 'aborted' | 'held';
}

const SLACK_PATH = '/api/chat.postMessage';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function startChatStandin(): Promise<ChatStandin> {
  const requests: StandinRequest[] = [];
  const violations: string[] = [];
  const scripts: Record<Channel, Reply[]> = { slack: [], teams: [] };
  const acked: Record<Channel, string[]> = { slack: [], teams: [] };
  const held = new Set<() => void>();
  let tokens: Set<string> | null = null;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
    const path = req.url ?? '';
    const channel: Channel | null = path.startsWith('/api/')
      ? 'slack'
      : path.startsWith('/teams/')
        ? 'teams'
        : null;
    const record: StandinRequest = {
      channel: channel ?? 'slack',
      method: req.method ?? '',
      path,
      headers: req.headers,
      body: null,
      key: null,
      at: Date.now(),
      outcome: 'rejected',
    };
    requests.push(record);
    const problems: string[] = [];
    const reject = (status: number, body: unknown) => {
      violations.push(...problems.map((p) => `${req.method} ${path}: ${p}`));
      send(res, status, body);
    };
    if (!channel) {
      problems.push('unknown path');
      return reject(404, { error: 'not found' });
    }
    if (req.method !== 'POST') problems.push(`method ${req.method}, expected POST`);

    if (channel === 'slack') {
      if (path !== SLACK_PATH) problems.push(`path ${path}, expected ${SLACK_PATH}`);
      const auth = req.headers.authorization ?? '';
      const token = /^Bearer (xoxb-[A-Za-z0-9-]+)$/.exec(auth)?.[1];
      if (!token) {
        problems.push('no "Authorization: Bearer xoxb-…" header');
        return reject(200, { ok: false, error: 'not_authed' });
      }
      const body = slackBody(req.headers['content-type'] ?? '', raw, problems);
      record.body = body;
      if (body) checkSlackMessage(body, problems);
      record.key = body?.metadata?.event_payload?.idempotency_key ?? null;
      if (problems.length) return reject(200, { ok: false, error: 'invalid_arguments' });
      if (tokens && !tokens.has(token)) {
        record.outcome = 'failed';
        return send(res, 200, { ok: false, error: 'invalid_auth' });
      }
    } else {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
        problems.push(`content-type ${req.headers['content-type']}, expected application/json`);
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || !key) problems.push('no Idempotency-Key header');
      record.key = typeof key === 'string' ? key : null;
      try {
        record.body = JSON.parse(raw);
        checkTeamsMessage(record.body, problems);
      } catch {
        problems.push('the body is not JSON');
      }
      if (problems.length)
        return reject(400, { error: { code: 'BadRequest', message: problems.join('; ') } });
    }

    const reply = scripts[channel].shift() ?? {};
    const answer = () => {
      if (res.writableEnded || res.destroyed) return;
      if (reply.status && reply.status !== 200 && reply.status !== 202) {
        record.outcome = 'failed';
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
        if (reply.location) headers.location = reply.location;
        res.writeHead(reply.status, headers);
        res.end(reply.body ?? `HTTP ${reply.status}`);
        return;
      }
      if (reply.slackError) {
        record.outcome = 'failed';
        return send(res, 200, { ok: false, error: reply.slackError });
      }
      const first = !acked[channel].includes(record.key!);
      record.outcome = first ? 'ok' : 'duplicate';
      if (first) acked[channel].push(record.key!);
      if (channel === 'slack')
        send(res, 200, {
          ok: true,
          channel: 'D0STANDIN',
          ts: `${Date.now() / 1000}`,
          message: { text: 'ok' },
        });
      else send(res, 202, '');
    };
    // A client that goes away before its answer: never acknowledged.
    res.on('close', () => {
      if (!res.writableFinished) record.outcome = 'aborted';
    });
    if (reply.hold) {
      record.outcome = 'held';
      const release = () => {
        held.delete(release);
        answer();
      };
      held.add(release);
      return;
    }
    if (reply.delayMs) setTimeout(answer, reply.delayMs);
    else answer();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    slackApiUrl: `${url}/api/`,
    teamsUrl: (name = 'hook') => `${url}/teams/${name}`,
    requests,
    violations,
    script: (channel, ...replies) => void scripts[channel].push(...replies),
    delivered: (channel) => (channel ? [...acked[channel]] : [...acked.slack, ...acked.teams]),
    release: () => [...held].forEach((r) => r()),
    acceptTokens: (list) => void (tokens = list ? new Set(list) : null),
    reset() {
      requests.length = 0;
      violations.length = 0;
      scripts.slack.length = 0;
      scripts.teams.length = 0;
      acked.slack.length = 0;
      acked.teams.length = 0;
      held.clear();
      tokens = null;
    },
    async close() {
      held.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown) {
  if (res.writableEnded || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

/**
 * Slack takes form fields (what @slack/web-api sends, nested values as JSON strings) or a JSON body;
 * either way, the fields as objects.
 */
function slackBody(contentType: string, raw: string, problems: string[]): any {
  if (/^application\/json\b/.test(contentType)) {
    try {
      return JSON.parse(raw);
    } catch {
      problems.push('the JSON body does not parse');
      return null;
    }
  }
  if (!/^application\/x-www-form-urlencoded\b/.test(contentType)) {
    problems.push(
      `content-type ${contentType}, expected application/x-www-form-urlencoded or application/json`,
    );
    return null;
  }
  const fields: Record<string, any> = Object.fromEntries(new URLSearchParams(raw));
  for (const name of ['metadata', 'blocks']) {
    if (fields[name] === undefined) continue;
    try {
      fields[name] = JSON.parse(fields[name]);
    } catch {
      problems.push(`${name} is not JSON`);
    }
  }
  if ('token' in fields) problems.push('the token is in the body (it belongs in the Authorization header)');
  return fields;
}

function checkSlackMessage(body: any, problems: string[]) {
  if (typeof body.channel !== 'string' || !/^[UWCDG][A-Z0-9]{2,30}$/.test(body.channel))
    problems.push(`channel ${JSON.stringify(body.channel)} is not a Slack id`);
  if (typeof body.text !== 'string' || !body.text.trim() || body.text.length > 40_000)
    problems.push('text must be a non-empty string of at most 40000 characters');
  if (body.blocks !== undefined && !Array.isArray(body.blocks)) problems.push('blocks must be an array');
  const m = body.metadata;
  if (!m || m.event_type !== 'rolegate_approval')
    problems.push('metadata.event_type must be rolegate_approval');
  else if (typeof m.event_payload !== 'object' || m.event_payload === null)
    problems.push('no metadata.event_payload');
  else {
    if (!UUID.test(String(m.event_payload.request_id)))
      problems.push('metadata.event_payload.request_id is no id');
    if (typeof m.event_payload.idempotency_key !== 'string' || !m.event_payload.idempotency_key)
      problems.push('metadata.event_payload.idempotency_key is missing');
  }
}

/** A message with one Adaptive Card whose mention entities each appear in a TextBlock. */
function checkTeamsMessage(body: any, problems: string[]) {
  if (body?.type !== 'message') problems.push('type must be "message"');
  const attachments = body?.attachments;
  if (!Array.isArray(attachments) || attachments.length !== 1) {
    problems.push('attachments must hold one card');
    return;
  }
  const a = attachments[0];
  if (a.contentType !== 'application/vnd.microsoft.card.adaptive')
    problems.push(`contentType ${a.contentType}, expected application/vnd.microsoft.card.adaptive`);
  const card = a.content;
  if (card?.type !== 'AdaptiveCard') problems.push('content.type must be AdaptiveCard');
  if (card?.version !== '1.4') problems.push(`card version ${card?.version}, expected 1.4`);
  if (!Array.isArray(card?.body) || !card.body.length) problems.push('the card has no body');
  const texts: string[] = (card?.body ?? [])
    .filter((b: any) => b?.type === 'TextBlock')
    .map((b: any) => b.text);
  const entities = card?.msteams?.entities;
  if (!Array.isArray(entities) || !entities.length) problems.push('no msteams.entities mention');
  for (const e of entities ?? []) {
    if (e?.type !== 'mention') problems.push(`entity type ${e?.type}, expected mention`);
    if (typeof e?.text !== 'string' || !/^<at>[^<]+<\/at>$/.test(e.text))
      problems.push('mention text must be <at>…</at>');
    else if (!texts.some((t) => t.includes(e.text)))
      problems.push(`mention ${e.text} appears in no TextBlock`);
    if (typeof e?.mentioned?.id !== 'string' || typeof e?.mentioned?.name !== 'string')
      problems.push('mention.mentioned needs an id and a name');
  }
}
