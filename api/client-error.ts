/**
 * Requests that node's HTTP parser refuses (a control character in a header value, a malformed
 * request line) never reach express; node would answer a bare 400 without a body. They get the
 * API's one problem shape instead (MALFORMED_REQUEST), so a client sees the same kind of answer
 * for every bad input. Attach to every server that serves the app.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { API_PROBLEMS, PROBLEM_CONTENT_TYPE, problemType } from './problem';

/** The request target of the refused request when it is printable ASCII, else "/". */
function instanceOf(raw: unknown): string {
  const line = Buffer.isBuffer(raw) ? raw.subarray(0, 2048).toString('latin1').split('\r\n', 1)[0] : '';
  const target = /^[A-Z]+ ([\x21-\x7e]{1,2000}) HTTP\/1\.[01]$/.exec(line ?? '')?.[1];
  return target ?? '/';
}

/** The raw HTTP/1.1 answer for a request the parser refused (the connection closes after it). */
export function malformedRequestAnswer(raw: unknown): string {
  const kind = API_PROBLEMS.MALFORMED_REQUEST;
  const body = JSON.stringify({
    type: problemType(kind.code),
    title: kind.title,
    status: kind.status,
    detail: 'the request is not valid HTTP/1.1 (a header value with a control character, or a malformed request line or header)',
    instance: instanceOf(raw),
    code: kind.code,
  });
  return [
    `HTTP/1.1 ${kind.status} Bad Request`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** What node itself answers to these (kept: they are not about the request's content). */
const NODE_ANSWERS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
};

/** Answers refused requests on `server` with a MALFORMED_REQUEST problem. */
export function answerClientErrors(server: http.Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex) => {
    // A response already under way (or a closed socket) cannot be answered: drop it, as node does.
    if (!socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    socket.end(NODE_ANSWERS[err.code ?? ''] ?? malformedRequestAnswer(err.rawPacket));
  });
}
