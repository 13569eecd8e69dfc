/** Header fields (RFC 9110 §5): names compared case-insensitively, order and repeats kept. */

/** Lower-case names of the header fields seen most often, so parsing rarely allocates a new string. */
const COMMON = new Map<string, string>(
  [
    'Host', 'User-Agent', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Connection', 'Content-Length',
    'Content-Type', 'Transfer-Encoding', 'Cache-Control', 'Cookie', 'Date', 'Server', 'Expect', 'Range',
    'If-None-Match', 'If-Modified-Since', 'ETag', 'Last-Modified', 'Keep-Alive', 'Upgrade', 'Referer', 'Origin',
  ].flatMap((name) => [[name, name.toLowerCase()], [name.toLowerCase(), name.toLowerCase()]] as [string, string][]),
);

/** Lower case of an ASCII header name. */
export function lowerName(name: string): string {
  return COMMON.get(name) ?? name.toLowerCase();
}

/** An ordered list of header fields. */
export class Headers {
  /** Flat list: name as received, value, name, value, ... */
  private readonly fields: string[] = [];
  /** Lower-cased names, parallel to the names in `fields`. */
  private readonly lower: string[] = [];

  constructor(init?: Iterable<readonly [string, string]> | Record<string, string>) {
    if (init === undefined) return;
    const entries = Symbol.iterator in init ? (init as Iterable<readonly [string, string]>) : Object.entries(init);
    for (const [name, value] of entries) this.append(name, value);
  }

  /** Adds a field (keeps any earlier one with the same name). */
  append(name: string, value: string): void {
    this.fields.push(name, value);
    this.lower.push(lowerName(name));
  }

  /** Replaces every field of this name by one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  delete(name: string): void {
    const key = lowerName(name);
    for (let i = this.lower.length - 1; i >= 0; i--) {
      if (this.lower[i] === key) {
        this.lower.splice(i, 1);
        this.fields.splice(2 * i, 2);
      }
    }
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const key = lowerName(name);
    for (let i = 0; i < this.lower.length; i++) if (this.lower[i] === key) return this.fields[2 * i + 1];
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const key = lowerName(name);
    const values: string[] = [];
    for (let i = 0; i < this.lower.length; i++) if (this.lower[i] === key) values.push(this.fields[2 * i + 1]);
    return values;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Number of fields. */
  get size(): number {
    return this.lower.length;
  }

  /** Fields as `[name, value]` pairs with names as received. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.fields.length; i += 2) yield [this.fields[i], this.fields[i + 1]];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** True when a comma-separated list field (RFC 9110 §5.6.1) holds `token`, case-insensitively. */
  hasToken(name: string, token: string): boolean {
    const wanted = token.toLowerCase();
    for (const value of this.getAll(name)) {
      for (const item of value.split(',')) if (item.trim().toLowerCase() === wanted) return true;
    }
    return false;
  }
}
