import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../lib/logger';

/**
 * Requests Node's HTTP parser rejects (a verb it does not know such as FOOBAR, a malformed request
 * line or header, headers past the size limit, a request that never finished arriving) never
 * reach Koa, so the problem handler cannot answer them. Without a `clientError` listener Node
 * writes a bare `400 Bad Request` with no body; with this one every such answer is
 * application/problem+json with a stable code, like every other 4xx of the API. Nothing of the
 * parser's error (its message names byte offsets and internals) is sent, and the connection is
 * closed: after a parse error the rest of the stream cannot be trusted.
 */
const ANSWERS: Record<string, { status: number; reason: string; code: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: 'Request Header Fields Too Large', code: 'headers_too_large', detail: 'The request headers are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: 'Request Timeout', code: 'request_timeout', detail: 'The request did not arrive in time.' },
};
const BAD_REQUEST = { status: 400, reason: 'Bad Request', code: 'bad_request', detail: 'The request is not valid HTTP.' };

export function clientErrorResponse(errorCode: string | undefined, requestId: string): string {
  const answer = ANSWERS[errorCode ?? ''] ?? BAD_REQUEST;
  const body = JSON.stringify({
    type: `https://docs.forclinic.example/problems/${answer.code}`,
    title: answer.reason,
    status: answer.status,
    code: answer.code,
    detail: answer.detail,
    requestId,
  });
  return [
    `HTTP/1.1 ${answer.status} ${answer.reason}`,
    'Content-Type: application/problem+json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    `X-Request-Id: ${requestId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

export function answerClientErrors(server: Server, log: Logger): void {
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // A response of a request already on this connection may be half written (pipelining):
    // bytes of ours in the middle of it would corrupt it for the client, so only close then.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    // Debug only: anyone can send garbage, and each line would be theirs to write into our logs.
    log.debug({ requestId, code: err.code }, 'unparseable request refused');
    socket.end(clientErrorResponse(err.code, requestId), () => socket.destroy());
  });
}
