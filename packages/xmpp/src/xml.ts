/**
 * XMPP's restricted XML (RFC 6120 §11): a streaming, namespace-aware parser that accepts only
 * what a peer may send (no DTD, comments, processing instructions or entities beyond the five
 * predefined ones and character references), with limits on everything a peer controls, and a
 * serializer that escapes correctly.
 */
import { DecodeError } from '@morgana/core';

/** Namespace of the `xml:` prefix, bound in every document (Namespaces in XML §3). */
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** An element: local name, namespace, attributes and children (elements and text). */
export interface XmlElement {
  readonly name: string;
  readonly ns: string;
  /**
   * Attributes by name: unprefixed ones by local name, `xml:lang` as `xml:lang`, and any other
   * namespaced attribute in Clark notation, `{namespace}local`.
   */
  readonly attrs: Record<string, string>;
  readonly children: (XmlElement | string)[];
}

/** What the parser reports, in stream order. */
export type XmlEvent =
  | { readonly type: 'stream-open'; readonly element: XmlElement }
  | { readonly type: 'stanza'; readonly element: XmlElement }
  | { readonly type: 'stream-close' };

/** Limits on what a peer can make the parser hold. */
export interface XmlLimits {
  /** Element nesting, counting the stream element as 1; default 32. */
  readonly maxDepth: number;
  /** Attributes on one element (namespace declarations included); default 64. */
  readonly maxAttributes: number;
  /** Characters in one attribute value; default 16 384. */
  readonly maxAttributeSize: number;
  /** Characters in one text node; default 262 144. */
  readonly maxTextSize: number;
  /** Characters in an element or attribute name; default 256. */
  readonly maxNameSize: number;
  /** Characters (UTF-16 units) in one stanza, markup included; default 262 144. */
  readonly maxStanzaSize: number;
}

/** Defaults of {@link XmlLimits}; the stanza limit matches common servers' c2s limit. */
export const XML_LIMIT_DEFAULTS: XmlLimits = {
  maxDepth: 32,
  maxAttributes: 64,
  maxAttributeSize: 16_384,
  maxTextSize: 262_144,
  maxNameSize: 256,
  maxStanzaSize: 262_144,
};

/** Bad or forbidden XML from a peer; `reason` names what and maps onto an XMPP stream error. */
export class XmlError extends DecodeError {
  constructor(reason: string, message: string) {
    super(reason, message);
  }
}

const enum State {
  Text,
  TagOpen,
  StartName,
  InTag,
  AttrName,
  AfterAttrName,
  BeforeAttrValue,
  AttrValue,
  SelfClose,
  EndName,
  AfterEndName,
  XmlDecl,
  XmlDeclEnd,
  MarkupDecl,
  CData,
}

/** What may follow `<!` inside a stanza: only a CDATA section. */
const CDATA_OPEN = '[CDATA[';

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** Longest reference we buffer: `&#x10FFFF;` is 10 characters. */
const MAX_REFERENCE = 10;

/**
 * One decoder for every parser: each chunk is decoded whole, without `stream: true`, and a
 * parser carries an incomplete trailing UTF-8 sequence itself, so an idle connection holds no
 * TextDecoder (and no native converter) of its own. `ignoreBOM` keeps U+FEFF in mid-stream
 * chunks; the parser drops a BOM only at the start of a stream.
 */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** A UTF-8 sequence is at most 4 bytes, so at most 3 bytes wait for the next chunk. */
const MAX_UTF8_CARRY = 3;
const NO_ATTRS: [string, string][] = [];

/** Stands for the stream element on the parser's stack: stanzas are reported, never attached to it. */
const STREAM_ROOT: XmlElement = Object.freeze({ name: 'stream', ns: '', attrs: Object.freeze({}), children: Object.freeze([]) as unknown as (XmlElement | string)[] });

/**
 * A copy of `text` that does not share the chunk it was sliced from: V8 keeps a whole parent
 * string alive behind a slice of 13 characters or more, and the slice of a concatenation is
 * taken from a new flat string.
 */
function ownString(text: string): string {
  return (text + ' ').slice(0, -1);
}

/** The scope in effect before any declaration: only the `xml` prefix is bound. */
const XML_ONLY_SCOPE: ReadonlyMap<string, string> = new Map([['xml', XML_NS]]);

/** Root scopes by their declarations; every stream of one kind declares the same ones. */
const rootScopes = new Map<string, ReadonlyMap<string, string>>();
/** Distinct root scopes kept for sharing; past it a stream keeps a scope of its own. */
const MAX_SHARED_ROOT_SCOPES = 16;

/**
 * The stream element's namespace scope, shared between streams that declare the same
 * namespaces (scopes are never changed once made: a child's declarations copy it), so an idle
 * connection holds no Map of its own.
 */
function sharedRootScope(scope: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  let key = '';
  for (const [prefix, ns] of scope) key += `${prefix}\u0000${ns}\u0000`;
  const shared = rootScopes.get(key);
  if (shared !== undefined) return shared;
  const own = new Map<string, string>();
  for (const [prefix, ns] of scope) own.set(ownString(prefix), ownString(ns));
  if (rootScopes.size < MAX_SHARED_ROOT_SCOPES) rootScopes.set(ownString(key), own);
  return own;
}

/** Bytes at the end of `bytes` that start a UTF-8 sequence the chunk does not complete (0 to 3). */
function incompleteUtf8Tail(bytes: Uint8Array): number {
  const end = bytes.length;
  for (let back = 1; back <= MAX_UTF8_CARRY && back <= end; back++) {
    const b = bytes[end - back];
    if ((b & 0xc0) === 0x80) continue;
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  // No lead byte within reach: complete, or invalid, which the decoder reports.
  return 0;
}

interface OpenElement {
  readonly qname: string;
  readonly element: XmlElement;
  readonly scope: ReadonlyMap<string, string>;
}

function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a || c >= 0xc0;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0xb7;
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
/** XML 1.0 `Char`: no C0 controls but tab, LF, CR; no U+FFFE/U+FFFF (surrogates pass in pairs). */
function isXmlChar(c: number): boolean {
  return c >= 0x20 ? c !== 0xfffe && c !== 0xffff : c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * The streaming parser. Feed it bytes as they arrive, in chunks of any size; it returns the
 * events each chunk completes and throws {@link XmlError} on the first violation.
 */
export class XmlStreamParser {
  private readonly limits: XmlLimits;
  /** The start of a UTF-8 sequence split across chunks (at most 3 bytes), or undefined. */
  private carry: Uint8Array | undefined;
  /** Nothing decoded yet since the start or a restart: a BOM here is dropped. */
  private atStart = true;
  private state = State.Text;
  private stack: OpenElement[] = [];
  private name = '';
  private attrName = '';
  private attrValue = '';
  private quote = 0;
  private rawAttrs: [string, string][] = NO_ATTRS;
  private text = '';
  private reference: string | undefined;
  private declText = '';
  private stanzaSize = 0;
  private markup = '';
  private cdataBrackets = 0;
  private closed = false;
  private deferred: XmlError | undefined;
  private events: XmlEvent[] = [];

  constructor(limits: Partial<XmlLimits> = {}) {
    // Parsers with default limits (most connections) share one object.
    this.limits = Object.keys(limits).length === 0 ? XML_LIMIT_DEFAULTS : { ...XML_LIMIT_DEFAULTS, ...limits };
  }

  /** Forgets everything, for a stream restart after STARTTLS or SASL (RFC 6120 §4.3.3). */
  reset(): void {
    this.carry = undefined;
    this.atStart = true;
    this.state = State.Text;
    this.stack = [];
    this.text = '';
    this.reference = undefined;
    this.stanzaSize = 0;
    this.declText = '';
    this.closed = false;
    this.deferred = undefined;
  }

  /** Parses the next chunk of the stream. */
  push(bytes: Uint8Array): XmlEvent[] {
    if (this.deferred !== undefined) throw this.deferred;
    let input = bytes;
    if (this.carry !== undefined) {
      input = new Uint8Array(this.carry.length + bytes.length);
      input.set(this.carry);
      input.set(bytes, this.carry.length);
      this.carry = undefined;
    }
    const tail = incompleteUtf8Tail(input);
    if (tail > 0) {
      this.carry = input.slice(input.length - tail);
      input = input.subarray(0, input.length - tail);
    }
    if (this.atStart && input.length > 0) {
      this.atStart = false;
      if (input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf) input = input.subarray(3);
    }
    let chunk: string;
    try {
      chunk = utf8Decoder.decode(input);
    } catch {
      throw new XmlError('invalid-utf8', 'the stream is not valid UTF-8');
    }
    return this.pushText(chunk);
  }

  /**
   * An error found after events in the same chunk: those events were returned first (a stream
   * header must still be answered before the stream error), and the next call throws this.
   */
  get pendingError(): XmlError | undefined {
    return this.deferred;
  }

  /** Parses already-decoded text (tests and benchmarks). */
  pushText(chunk: string): XmlEvent[] {
    if (this.deferred !== undefined) throw this.deferred;
    this.events = [];
    try {
      this.parseChunk(chunk);
    } catch (error) {
      if (!(error instanceof XmlError) || this.events.length === 0) throw error;
      this.deferred = error;
    }
    const events = this.events;
    this.events = [];
    this.releaseScratch();
    return events;
  }

  /**
   * Between stanzas, drops the scratch strings of the last tag: they are slices of the chunk
   * they came from, and would keep that whole chunk alive for as long as the connection idles.
   */
  private releaseScratch(): void {
    if (this.state !== State.Text || this.stack.length > 1) return;
    this.name = '';
    this.attrName = '';
    this.attrValue = '';
    this.rawAttrs = NO_ATTRS;
  }

  private parseChunk(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      // Runs of plain character data are taken in one slice: the per-character machine is
      // only needed at markup and references.
      if ((this.state === State.Text && this.stack.length > 1) || this.state === State.AttrValue) {
        const end = this.plainRun(chunk, i);
        if (end > i) {
          this.addRun(chunk.slice(i, end));
          i = end - 1;
          continue;
        }
      }
      if (this.state === State.StartName || this.state === State.AttrName || (this.state === State.EndName && this.name.length > 0)) {
        let end = i;
        while (end < chunk.length && isNameChar(chunk.charCodeAt(end))) end++;
        if (end > i + 1) {
          this.addNameRun(chunk.slice(i, end));
          i = end - 1;
          continue;
        }
      }
      this.step(chunk.charCodeAt(i), chunk[i]);
    }
  }

  private addNameRun(run: string): void {
    this.stanzaSize += run.length;
    if (this.stanzaSize > this.limits.maxStanzaSize) this.fail('stanza-size', `a stanza exceeds ${this.limits.maxStanzaSize} characters (maxStanzaSize)`);
    if (this.state === State.AttrName) this.attrName += run;
    else this.name += run;
    if (this.name.length > this.limits.maxNameSize || this.attrName.length > this.limits.maxNameSize) this.fail('name-size', 'name too long (maxNameSize)');
  }

  private plainRun(chunk: string, start: number): number {
    if (this.reference !== undefined) return start;
    let i = start;
    for (; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === 0x3c || c === 0x26 || (c === this.quote && this.state === State.AttrValue) || !isXmlChar(c)) break;
    }
    return i;
  }

  private addRun(run: string): void {
    this.stanzaSize += run.length;
    if (this.stanzaSize > this.limits.maxStanzaSize) this.fail('stanza-size', `a stanza exceeds ${this.limits.maxStanzaSize} characters (maxStanzaSize)`);
    if (this.state === State.AttrValue) {
      this.attrValue += run;
      if (this.attrValue.length > this.limits.maxAttributeSize) this.fail('attribute-size', `an attribute value exceeds ${this.limits.maxAttributeSize} characters (maxAttributeSize)`);
    } else {
      this.text += run;
      if (this.text.length > this.limits.maxTextSize) this.fail('text-size', `a text node exceeds ${this.limits.maxTextSize} characters (maxTextSize)`);
    }
  }

  private fail(reason: string, message: string): never {
    throw new XmlError(reason, message);
  }

  private step(c: number, ch: string): void {
    if (this.closed) this.fail('after-close', 'data after the end of the stream');
    if (!isXmlChar(c)) this.fail('invalid-char', `character U+${c.toString(16)} is not allowed in XML`);
    if (this.stack.length > 1 || this.state !== State.Text) {
      if (++this.stanzaSize > this.limits.maxStanzaSize) this.fail('stanza-size', `a stanza exceeds ${this.limits.maxStanzaSize} characters (maxStanzaSize)`);
    }
    switch (this.state) {
      case State.Text:
        if (c === 0x3c) {
          if (this.reference !== undefined) this.fail('entity', 'unterminated entity reference');
          this.state = State.TagOpen;
          if (this.stack.length === 1) this.stanzaSize = 1;
        } else if (this.reference !== undefined || c === 0x26) this.referenceChar(ch, false);
        else this.addText(ch);
        return;
      case State.TagOpen:
        // Text before a tag ends here; before a CDATA section it goes on (one text node).
        if (c !== 0x21) this.flushText();
        if (c === 0x2f) {
          this.name = '';
          this.state = State.EndName;
        } else if (c === 0x3f) {
          if (this.stack.length > 0 || this.declText === 'done') this.fail('processing-instruction', 'processing instructions are not allowed (RFC 6120 §11.1)');
          this.declText = '';
          this.state = State.XmlDecl;
        } else if (c === 0x21) {
          this.markup = '';
          this.state = State.MarkupDecl;
        } else if (isNameStart(c)) {
          this.name = ch;
          this.rawAttrs = [];
          this.state = State.StartName;
        } else this.fail('malformed', `unexpected '${ch}' after '<'`);
        return;
      case State.StartName:
        if (isNameChar(c)) this.addName(ch);
        else this.inTag(c, ch);
        return;
      case State.InTag:
        this.inTag(c, ch);
        return;
      case State.AttrName:
        if (isNameChar(c)) {
          this.attrName += ch;
          if (this.attrName.length > this.limits.maxNameSize) this.fail('name-size', 'attribute name too long (maxNameSize)');
        } else if (c === 0x3d) this.state = State.BeforeAttrValue;
        else if (isSpace(c)) this.state = State.AfterAttrName;
        else this.fail('malformed', `unexpected '${ch}' in attribute name`);
        return;
      case State.AfterAttrName:
        if (c === 0x3d) this.state = State.BeforeAttrValue;
        else if (!isSpace(c)) this.fail('malformed', "expected '=' after an attribute name");
        return;
      case State.BeforeAttrValue:
        if (c === 0x22 || c === 0x27) {
          this.quote = c;
          this.attrValue = '';
          this.state = State.AttrValue;
        } else if (!isSpace(c)) this.fail('malformed', 'attribute values must be quoted');
        return;
      case State.AttrValue:
        if (this.reference !== undefined || c === 0x26) this.referenceChar(ch, true);
        else if (c === this.quote) {
          if (this.rawAttrs.length >= this.limits.maxAttributes) this.fail('attribute-count', `more than ${this.limits.maxAttributes} attributes (maxAttributes)`);
          this.rawAttrs.push([this.attrName, this.attrValue]);
          this.state = State.InTag;
        } else if (c === 0x3c) this.fail('malformed', "'<' in an attribute value");
        else this.addAttrValue(ch);
        return;
      case State.SelfClose:
        if (c !== 0x3e) this.fail('malformed', "expected '>' after '/'");
        this.openTag(true);
        return;
      case State.EndName:
        if (isNameChar(c) && (this.name.length > 0 || isNameStart(c))) this.addName(ch);
        else if (c === 0x3e && this.name.length > 0) this.closeTag();
        else if (isSpace(c) && this.name.length > 0) this.state = State.AfterEndName;
        else this.fail('malformed', `unexpected '${ch}' in an end tag`);
        return;
      case State.AfterEndName:
        if (c === 0x3e) this.closeTag();
        else if (!isSpace(c)) this.fail('malformed', `unexpected '${ch}' in an end tag`);
        return;
      case State.MarkupDecl:
        this.markup += ch;
        if (this.markup === CDATA_OPEN && this.stack.length > 1) {
          this.cdataBrackets = 0;
          this.state = State.CData;
        } else if (!CDATA_OPEN.startsWith(this.markup) || this.stack.length < 2) {
          if (this.markup[0] === '-') this.fail('comment', 'comments are not allowed (RFC 6120 §11.1)');
          if (this.markup[0] === 'D') this.fail('doctype', 'document type declarations are not allowed (RFC 6120 §11.1)');
          this.fail('malformed', `unexpected '<!${this.markup}'`);
        }
        return;
      case State.CData:
        // Character data up to ']]>', taken verbatim (XML 1.0 §2.7).
        if (c === 0x5d) {
          if (this.cdataBrackets === 2) this.addText(']');
          else this.cdataBrackets++;
        } else if (c === 0x3e && this.cdataBrackets === 2) {
          this.state = State.Text;
        } else {
          for (; this.cdataBrackets > 0; this.cdataBrackets--) this.addText(']');
          this.addText(ch);
        }
        return;
      case State.XmlDecl:
        if (c === 0x3f) this.state = State.XmlDeclEnd;
        else this.addDecl(ch);
        return;
      case State.XmlDeclEnd:
        if (c === 0x3e) this.endDecl();
        else {
          this.addDecl('?' + ch);
          if (c !== 0x3f) this.state = State.XmlDecl;
        }
        return;
    }
  }

  private addName(ch: string): void {
    this.name += ch;
    if (this.name.length > this.limits.maxNameSize) this.fail('name-size', 'element name too long (maxNameSize)');
  }

  private addDecl(text: string): void {
    this.declText += text;
    if (this.declText.length > this.limits.maxNameSize) this.fail('malformed', 'XML declaration too long');
  }

  // Only the XML declaration itself (`<?xml ...?>`) is allowed, and only before the stream
  // header: any other processing instruction is refused (RFC 6120 §11.1).
  private endDecl(): void {
    if (!/^xml(\s|$)/.test(this.declText)) this.fail('processing-instruction', 'processing instructions are not allowed (RFC 6120 §11.1)');
    this.declText = 'done';
    this.state = State.Text;
  }

  private inTag(c: number, ch: string): void {
    if (isSpace(c)) this.state = State.InTag;
    else if (c === 0x3e) this.openTag(false);
    else if (c === 0x2f) this.state = State.SelfClose;
    else if (this.state === State.InTag && isNameStart(c)) {
      this.attrName = ch;
      this.state = State.AttrName;
    } else this.fail('malformed', `unexpected '${ch}' in a start tag`);
  }

  private addText(ch: string): void {
    if (this.stack.length === 0 || this.stack.length === 1) {
      // Between stanzas only whitespace may appear (keepalives, RFC 6120 §4.6.1).
      if (!isSpace(ch.charCodeAt(0))) this.fail('malformed', 'text outside a stanza');
      return;
    }
    this.text += ch;
    if (this.text.length > this.limits.maxTextSize) this.fail('text-size', `a text node exceeds ${this.limits.maxTextSize} characters (maxTextSize)`);
  }

  private addAttrValue(ch: string): void {
    this.attrValue += ch;
    if (this.attrValue.length > this.limits.maxAttributeSize) this.fail('attribute-size', `an attribute value exceeds ${this.limits.maxAttributeSize} characters (maxAttributeSize)`);
  }

  private referenceChar(ch: string, inAttr: boolean): void {
    if (this.reference === undefined) {
      this.reference = '';
      return;
    }
    if (ch !== ';') {
      this.reference += ch;
      if (this.reference.length > MAX_REFERENCE) this.fail('entity', 'unterminated or unknown entity reference');
      return;
    }
    const ref = this.reference;
    this.reference = undefined;
    let value = PREDEFINED[ref];
    if (value === undefined) {
      const code = /^#x[0-9a-fA-F]+$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]+$/.test(ref) ? parseInt(ref.slice(1), 10) : -1;
      if (code < 0) this.fail('entity', `entity '&${ref};' is not allowed: only the five predefined entities and character references (RFC 6120 §11.1)`);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || !isXmlChar(code)) this.fail('invalid-char', `character reference &${ref}; names no XML character`);
      value = String.fromCodePoint(code);
    }
    if (inAttr) for (const part of value) this.addAttrValue(part);
    else for (const part of value) this.addText(part);
  }

  private flushText(): void {
    if (this.reference !== undefined) this.fail('entity', 'unterminated entity reference');
    if (this.text.length > 0) {
      this.stack[this.stack.length - 1].element.children.push(this.text);
      this.text = '';
    }
  }

  private openTag(selfClosing: boolean): void {
    const parent = this.stack[this.stack.length - 1];
    if (this.stack.length >= this.limits.maxDepth) this.fail('depth', `elements nest deeper than ${this.limits.maxDepth} (maxDepth)`);
    let scope: ReadonlyMap<string, string> = parent?.scope ?? XML_ONLY_SCOPE;
    // Declarations copy the parent's scope: scopes are never changed once made, so they can be shared.
    let declared: Map<string, string> | undefined;
    for (const [key, value] of this.rawAttrs) {
      if (key === 'xmlns' || key.startsWith('xmlns:')) {
        declared ??= new Map(scope);
        const prefix = key === 'xmlns' ? '' : key.slice(6);
        if (prefix === 'xml' || prefix === 'xmlns' || (prefix !== '' && value === '')) this.fail('malformed', `invalid namespace declaration ${key}`);
        declared.set(prefix, value);
      }
    }
    if (declared !== undefined) scope = declared;
    const [prefix, local] = this.splitName(this.name);
    const ns = scope.get(prefix);
    if (ns === undefined) this.fail('unbound-prefix', `prefix '${prefix}' is not declared`);
    const attrs: Record<string, string> = {};
    for (const [key, value] of this.rawAttrs) {
      if (key === 'xmlns' || key.startsWith('xmlns:')) continue;
      const [attrPrefix, attrLocal] = this.splitName(key);
      let resolved = attrLocal;
      if (attrPrefix === 'xml') resolved = `xml:${attrLocal}`;
      else if (attrPrefix !== '') {
        const attrNs = scope.get(attrPrefix);
        if (attrNs === undefined || attrNs === '') this.fail('unbound-prefix', `prefix '${attrPrefix}' is not declared`);
        resolved = `{${attrNs}}${attrLocal}`;
      }
      if (Object.prototype.hasOwnProperty.call(attrs, resolved)) this.fail('duplicate-attribute', `attribute ${key} appears twice`);
      attrs[resolved] = value;
    }
    const element: XmlElement = { name: local, ns, attrs, children: [] };
    if (parent === undefined) {
      if (selfClosing) this.fail('malformed', 'the stream header closes itself');
      // The stream element stays open for the connection's life: it keeps only what closing
      // tags and namespace lookups need, as strings of their own rather than slices of the chunk.
      this.stack.push({ qname: ownString(this.name), element: STREAM_ROOT, scope: sharedRootScope(scope) });
      this.events.push({ type: 'stream-open', element });
    } else if (selfClosing) {
      this.finish(parent, element);
    } else {
      this.stack.push({ qname: this.name, element, scope });
    }
    this.state = State.Text;
  }

  private splitName(qname: string): [string, string] {
    const colon = qname.indexOf(':');
    if (colon < 0) return ['', qname];
    const local = qname.slice(colon + 1);
    if (colon === 0 || local.length === 0 || local.includes(':')) this.fail('malformed', `'${qname}' is not a valid qualified name`);
    return [qname.slice(0, colon), local];
  }

  private finish(parent: OpenElement, element: XmlElement): void {
    if (this.stack.length === 1) {
      this.events.push({ type: 'stanza', element });
      this.stanzaSize = 0;
    } else parent.element.children.push(element);
  }

  private closeTag(): void {
    const open = this.stack.pop();
    if (open === undefined || open.qname !== this.name) this.fail('mismatched-tag', `end tag </${this.name}> does not match the open element`);
    this.state = State.Text;
    if (this.stack.length === 0) {
      this.closed = true;
      this.events.push({ type: 'stream-close' });
    } else this.finish(this.stack[this.stack.length - 1], open.element);
  }
}

/** Escapes text content: `&`, `<` and `>` (the last so `]]>` never appears). */
export function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** Escapes an attribute value for either quote style; tab, CR, LF as references so they survive normalization. */
export function escapeAttr(text: string): string {
  return text.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESCAPES[c]);
}

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** Serialization context: the default namespace in effect and prefixes declared by ancestors. */
export interface XmlContext {
  readonly defaultNs: string;
  readonly prefixes?: ReadonlyMap<string, string>;
}

/**
 * Serializes an element. `context` says what the stream header already declared, so a stanza
 * in `jabber:client` carries no `xmlns`, and `stream:features` keeps its prefix.
 */
export function serialize(element: XmlElement, context: XmlContext = { defaultNs: '' }): string {
  const parts: string[] = [];
  write(element, context.defaultNs, context.prefixes ?? new Map(), parts);
  return parts.join('');
}

function write(element: XmlElement, defaultNs: string, prefixes: ReadonlyMap<string, string>, out: string[]): void {
  const prefix = prefixes.get(element.ns);
  const qname = prefix !== undefined && element.ns !== defaultNs ? `${prefix}:${element.name}` : element.name;
  out.push('<', qname);
  let childNs = defaultNs;
  if (prefix === undefined && element.ns !== defaultNs) {
    out.push(' xmlns="', escapeAttr(element.ns), '"');
    childNs = element.ns;
  }
  let generated = 0;
  for (const key of Object.keys(element.attrs)) {
    const value = escapeAttr(element.attrs[key]);
    if (key.startsWith('{')) {
      const end = key.indexOf('}');
      const p = `ns${generated++}`;
      out.push(' xmlns:', p, '="', escapeAttr(key.slice(1, end)), '" ', p, ':', key.slice(end + 1), '="', value, '"');
    } else out.push(' ', key, '="', value, '"');
  }
  if (element.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const child of element.children) {
    if (typeof child === 'string') out.push(escapeText(child));
    else write(child, childNs, prefixes, out);
  }
  out.push('</', qname, '>');
}

/** Builds an element: `el('message', 'jabber:client', { to }, [el('body', ..., {}, ['hi'])])`. */
export function el(name: string, ns: string, attrs: Record<string, string | undefined> = {}, children: (XmlElement | string)[] = []): XmlElement {
  const defined: Record<string, string> = {};
  for (const key of Object.keys(attrs)) {
    const value = attrs[key];
    if (value !== undefined) defined[key] = value;
  }
  return { name, ns, attrs: defined, children };
}

/** The first child element with this name (and namespace, when given). */
export function child(element: XmlElement, name: string, ns?: string): XmlElement | undefined {
  for (const c of element.children) {
    if (typeof c !== 'string' && c.name === name && (ns === undefined || c.ns === ns)) return c;
  }
  return undefined;
}

/** Every child element, optionally filtered by name and namespace. */
export function children(element: XmlElement, name?: string, ns?: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of element.children) {
    if (typeof c !== 'string' && (name === undefined || c.name === name) && (ns === undefined || c.ns === ns)) out.push(c);
  }
  return out;
}

/** The concatenated text children of an element. */
export function text(element: XmlElement | undefined): string {
  if (element === undefined) return '';
  let out = '';
  for (const c of element.children) if (typeof c === 'string') out += c;
  return out;
}
