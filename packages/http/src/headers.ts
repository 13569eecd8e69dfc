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
  private isFrozen = false;

  constructor(init?: Iterable<readonly [string, string]> | Record<string, string>) {
    if (init === undefined) return;
    const entries = Symbol.iterator in init ? (init as Iterable<readonly [string, string]>) : Object.entries(init);
    for (const [name, value] of entries) this.append(name, value);
  }

  /**
   * Makes the fields read-only and returns them. A server may then serialize them once and
   * reuse the bytes for every response that carries this object (the static handler does).
   */
  freeze(): this {
    this.isFrozen = true;
    return this;
  }

  /** True once {@link freeze} was called. */
  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Adds a field (keeps any earlier one with the same name). */
  append(name: string, value: string): void {
    if (this.isFrozen) throw new TypeError('these header fields are frozen (shared between responses): copy them with new Headers(headers)');
    this.fields.push(name, value);
    this.lower.push(lowerName(name));
  }

  /** {@link append} for a parser that already knows the lower-case name (`lower` must be `lowerName(name)`). */
  appendField(name: string, lower: string, value: string): void {
    if (this.isFrozen) throw new TypeError('these header fields are frozen (shared between responses): copy them with new Headers(headers)');
    this.fields.push(name, value);
    this.lower.push(lower);
  }

  /** Replaces every field of this name by one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  delete(name: string): void {
    if (this.isFrozen) throw new TypeError('these header fields are frozen (shared between responses): copy them with new Headers(headers)');
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

  /** The name of field `index` as received (0 ≤ index < size): indexed access keeps hot loops free of iterators. */
  nameAt(index: number): string {
    return this.fields[2 * index];
  }

  /** The lower-case name of field `index`. */
  lowerNameAt(index: number): string {
    return this.lower[index];
  }

  /** The value of field `index`. */
  valueAt(index: number): string {
    return this.fields[2 * index + 1];
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
