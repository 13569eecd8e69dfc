// A scripted OpenFlow switch for controller tests: a real loopback TCP connection driven
// message by message with the package's own codec.
import { type Tcp, type TcpFlow, parseIpv4 } from '@morgana/core';
import { MessageFramer, type OfpMessage, emitMessage, parseMessage } from '@morgana/openflow';

export class FakeSwitch {
  private readonly framer = new MessageFramer();
  private readonly queue: Uint8Array[] = [];
  private ended = false;

  private constructor(readonly flow: TcpFlow) {}

  static async connect(tcp: Tcp, port: number): Promise<FakeSwitch> {
    return new FakeSwitch(await tcp.connect(parseIpv4('127.0.0.1'), port));
  }

  /** The next raw message, or null when the controller closed the connection. */
  async nextBytes(): Promise<Uint8Array | null> {
    while (this.queue.length === 0) {
      if (this.ended) return null;
      let chunk: Uint8Array | null;
      try {
        chunk = await this.flow.read();
      } catch {
        chunk = null;
      }
      if (chunk === null) {
        this.ended = true;
        return null;
      }
      this.queue.push(...this.framer.push(chunk));
    }
    return this.queue.shift() ?? null;
  }

  async next(): Promise<OfpMessage> {
    const bytes = await this.nextBytes();
    if (bytes === null) throw new Error('controller closed the connection');
    return parseMessage(bytes, { versions: [1, 4, 5, 6] });
  }

  async expect<T extends OfpMessage['type']>(type: T): Promise<OfpMessage & { readonly type: T }> {
    const message = await this.next();
    if (message.type !== type) throw new Error(`expected ${type}, got ${message.type}`);
    return message as OfpMessage & { readonly type: T };
  }

  async send(message: OfpMessage): Promise<void> {
    await this.flow.write(emitMessage(message));
  }

  async sendBytes(bytes: Uint8Array): Promise<void> {
    await this.flow.write(bytes);
  }

  /** HELLO at `version`, then answers FEATURES_REQUEST with `datapathId`. */
  async handshake(version: 1 | 4, datapathId: bigint): Promise<void> {
    await this.expect('hello');
    await this.send({ version, xid: 1, type: 'hello' });
    const request = await this.expect('features-request');
    await this.send({
      version, xid: request.xid, type: 'features-reply', datapathId, nBuffers: 0, nTables: 254, auxiliaryId: 0,
      capabilities: 0, actions: 0, ports: [],
    });
  }

  close(): void {
    this.flow.abort();
  }
}
