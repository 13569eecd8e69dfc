/**
 * A {@link TcpControl} spoken over lines of JSON to a helper program next to the TCP under
 * test: one request per line (`{"n":1,"op":"listen","port":80}`), one answer per line with the
 * same `n` (`{"n":1,"ok":true,...}` or `{"n":1,"ok":false,"error":"..."}`). The kit ships the
 * helper for a Linux kernel ({@link LINUX_CONTROL_PROGRAM}, Python 3 with the standard
 * library only); how it is started and piped (inside a network namespace, say) is up to the
 * caller, so this module stays runtime-neutral.
 */
import { formatIpv4 } from '@morgana/core';
import type { TcpState } from '@morgana/core';
import type { ConnectionError, ConnectionId, ReadResult, TcpControl } from './control.js';

/** A bidirectional line channel to the helper. */
export interface LineChannel {
  /** Sends one line (without its newline). */
  send(line: string): void;
  /** Registers the receiver of each line the helper writes. */
  onLine(handler: (line: string) => void): void;
}

/** The control, plus what the helper reports about itself. */
export interface LineControl extends TcpControl {
  /** The helper's description of the implementation (e.g. "Linux 6.1.0-18-amd64"). */
  describe(): Promise<string>;
  /** Answers still awaited. */
  pending(): number;
}

const STATES: ReadonlySet<string> = new Set([
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
  'CLOSED',
]);
const ERRORS: ReadonlySet<string> = new Set(['reset', 'refused', 'timeout', 'closed', 'other']);

/** Hex text of bytes (the helper's encoding of data). */
function toHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

function fromHex(text: string): Uint8Array {
  if (text.length % 2 !== 0 || /[^0-9a-f]/i.test(text)) throw new Error('the helper sent data that is not hex');
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

type Answer = Record<string, unknown>;

/** A control over `channel`, answering within `timeoutMs` per request or failing (the helper's `read` and `accept` waits add to it). */
export function createLineControl(channel: LineChannel, setTimer: (ms: number, callback: () => void) => { cancel(): void }, timeoutMs = 10_000): LineControl {
  let next = 1;
  const waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void; cancel: () => void }>();
  channel.onLine((line) => {
    let answer: Answer;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      return;
    }
    const n = answer.n;
    if (typeof n !== 'number') return;
    const entry = waiting.get(n);
    if (entry === undefined) return;
    waiting.delete(n);
    entry.cancel();
    if (answer.ok === true) entry.resolve(answer);
    else entry.reject(new Error(`control helper: ${typeof answer.error === 'string' ? answer.error : 'failed'}`));
  });
  const call = (op: string, fields: Record<string, unknown> = {}, extraMs = 0): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const n = next++;
      const timer = setTimer(timeoutMs + extraMs, () => {
        waiting.delete(n);
        reject(new Error(`control helper did not answer ${op} within ${timeoutMs + extraMs} ms`));
      });
      waiting.set(n, { resolve, reject, cancel: () => timer.cancel() });
      channel.send(JSON.stringify({ n, op, ...fields }));
    });
  const number = (answer: Answer, key: string): number => {
    const value = answer[key];
    if (typeof value !== 'number') throw new Error(`control helper answer lacks ${key}`);
    return value;
  };
  return {
    async describe() {
      const answer = await call('describe');
      return typeof answer.name === 'string' ? answer.name : 'unknown';
    },
    pending: () => waiting.size,
    async listen(port) {
      await call('listen', { port });
    },
    async unlisten(port) {
      await call('unlisten', { port });
    },
    async accept(port, withinMs) {
      const answer = await call('accept', { port, ms: withinMs }, withinMs);
      return typeof answer.id === 'number' ? answer.id : undefined;
    },
    async connect(address, port, localPort) {
      return number(await call('connect', { address: formatIpv4(address), port, localPort }), 'id');
    },
    async send(id: ConnectionId, data) {
      await call('send', { id, data: toHex(data) });
    },
    async read(id, withinMs): Promise<ReadResult> {
      const answer = await call('read', { id, ms: withinMs }, withinMs);
      const error = typeof answer.error === 'string' && ERRORS.has(answer.error) ? (answer.error as ConnectionError) : undefined;
      return { data: fromHex(typeof answer.data === 'string' ? answer.data : ''), eof: answer.eof === true, error };
    },
    async shutdown(id) {
      await call('shutdown', { id });
    },
    async close(id) {
      await call('close', { id });
    },
    async abort(id) {
      await call('abort', { id });
    },
    async state(localPort, remotePort): Promise<TcpState | undefined> {
      const answer = await call('state', { localPort, remotePort });
      return typeof answer.state === 'string' && STATES.has(answer.state) ? (answer.state as TcpState) : undefined;
    },
    async reset() {
      await call('reset');
    },
  };
}

/**
 * The control helper for a Linux kernel: Python 3, standard library only. Run it with
 * `python3 -u -c LINUX_CONTROL_PROGRAM` inside the namespace whose TCP is under test. States
 * come from /proc/net/tcp by port pair (so TIME-WAIT and half-open connections show too);
 * ABORT is close() with SO_LINGER {1, 0}, which makes Linux send a RST.
 */
export const LINUX_CONTROL_PROGRAM = String.raw`
import errno, json, os, select, socket, struct, sys
STATES = {1: 'ESTABLISHED', 2: 'SYN-SENT', 3: 'SYN-RECEIVED', 4: 'FIN-WAIT-1', 5: 'FIN-WAIT-2', 6: 'TIME-WAIT',
          7: 'CLOSED', 8: 'CLOSE-WAIT', 9: 'LAST-ACK', 10: 'LISTEN', 11: 'CLOSING'}
ERRORS = {errno.ECONNRESET: 'reset', errno.EPIPE: 'reset', errno.ECONNREFUSED: 'refused', errno.ETIMEDOUT: 'timeout'}
conns = {}
listeners = {}
counter = [0]

def new_id(sock):
    counter[0] += 1
    conns[counter[0]] = sock
    return counter[0]

def state(lport, rport):
    with open('/proc/net/tcp') as table:
        next(table)
        for line in table:
            fields = line.split()
            if int(fields[1].split(':')[1], 16) == lport and int(fields[2].split(':')[1], 16) == rport:
                return STATES.get(int(fields[3], 16), 'CLOSED')
    return 'CLOSED'

def read(sock, ms):
    ready, _, _ = select.select([sock], [], [], ms / 1000.0)
    data = b''
    eof = False
    error = None
    if ready:
        while True:
            try:
                chunk = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError as e:
                error = ERRORS.get(e.errno, 'other')
                break
            if not chunk:
                eof = True
                break
            data += chunk
    return {'data': data.hex(), 'eof': eof, 'error': error}

def abort(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    except OSError:
        pass
    sock.close()

def handle(req):
    op = req['op']
    if op == 'describe':
        return {'name': 'Linux ' + os.uname().release}
    if op == 'listen':
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', req['port']))
        sock.listen(16)
        listeners[req['port']] = sock
        return {}
    if op == 'unlisten':
        listeners.pop(req['port']).close()
        return {}
    if op == 'accept':
        sock = listeners[req['port']]
        ready, _, _ = select.select([sock], [], [], req['ms'] / 1000.0)
        if not ready:
            return {'id': None}
        conn, _ = sock.accept()
        return {'id': new_id(conn)}
    if op == 'connect':
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', req['localPort']))
        sock.setblocking(False)
        sock.connect_ex((req['address'], req['port']))
        return {'id': new_id(sock)}
    if op == 'send':
        sock = conns[req['id']]
        data = bytes.fromhex(req['data'])
        sent = 0
        while sent < len(data):
            _, ready, _ = select.select([], [sock], [], 5)
            if not ready:
                raise OSError('send buffer stayed full for 5 s')
            sent += sock.send(data[sent:], socket.MSG_DONTWAIT)
        return {}
    if op == 'read':
        return read(conns[req['id']], req['ms'])
    if op == 'shutdown':
        conns[req['id']].shutdown(socket.SHUT_WR)
        return {}
    if op == 'close':
        conns.pop(req['id']).close()
        return {}
    if op == 'abort':
        abort(conns.pop(req['id']))
        return {}
    if op == 'state':
        return {'state': state(req['localPort'], req['remotePort'])}
    if op == 'reset':
        for sock in list(conns.values()):
            abort(sock)
        for sock in list(listeners.values()):
            sock.close()
        conns.clear()
        listeners.clear()
        return {}
    raise ValueError('unknown op ' + op)

for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        answer = handle(req)
        answer['ok'] = True
    except Exception as e:
        answer = {'ok': False, 'error': type(e).__name__ + ': ' + str(e)}
    answer['n'] = req.get('n')
    sys.stdout.write(json.dumps(answer) + '\n')
    sys.stdout.flush()
`;
