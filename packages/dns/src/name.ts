/**
 * Domain names (RFC 1035 §3.1). A name is its list of labels, most specific first, each label
 * a "byte string" (one char per byte, 0-255) so that any octet is representable (RFC 2181 §11)
 * and maps and comparisons work on plain strings. The root is the empty list.
 */
import { DecodeError } from '@morgana/core';

/** A domain name as labels, most specific first; `[]` is the root. */
export type DnsName = readonly string[];

/** RFC 1035 §2.3.4: a label is at most 63 octets. */
export const MAX_LABEL_LENGTH = 63;
/** RFC 1035 §2.3.4: a name is at most 255 octets in wire form, length bytes and root included. */
export const MAX_NAME_LENGTH = 255;

/** Wire length of a name (each label plus its length byte, plus the root byte). */
export function nameWireLength(name: DnsName): number {
  let length = 1;
  for (const label of name) length += label.length + 1;
  return length;
}

/** ASCII lower case of a label (RFC 4343: only A-Z fold; other octets are compared as they are). */
export function lowerLabel(label: string): string {
  for (let i = 0; i < label.length; i++) {
    const code = label.charCodeAt(i);
    if (code >= 65 && code <= 90) {
      let lower = label.slice(0, i);
      for (let j = i; j < label.length; j++) {
        const c = label.charCodeAt(j);
        lower += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : label[j];
      }
      return lower;
    }
  }
  return label;
}

/** A case-insensitive key for maps: lower-cased labels joined by a separator no label byte can collide with. */
export function nameKey(name: DnsName): string {
  let key = '';
  for (let i = 0; i < name.length; i++) key += (i === 0 ? '' : '\u0100') + lowerLabel(name[i]);
  return key;
}

/** Case-insensitive equality (RFC 4343). */
export function nameEquals(a: DnsName, b: DnsName): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (lowerLabel(a[i]) !== lowerLabel(b[i])) return false;
  return true;
}

/** True when `name` equals `ancestor` or lies below it. */
export function isSubdomain(name: DnsName, ancestor: DnsName): boolean {
  if (name.length < ancestor.length) return false;
  const offset = name.length - ancestor.length;
  for (let i = 0; i < ancestor.length; i++) if (lowerLabel(name[offset + i]) !== lowerLabel(ancestor[i])) return false;
  return true;
}

/**
 * Canonical DNS name order (RFC 4034 §6.1): compare label by label from the root, as
 * lower-cased octet strings, a shorter label sorting first on a common prefix.
 */
export function compareNames(a: DnsName, b: DnsName): number {
  let i = a.length - 1;
  let j = b.length - 1;
  for (; i >= 0 && j >= 0; i--, j--) {
    const x = lowerLabel(a[i]);
    const y = lowerLabel(b[j]);
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function isPlain(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x2d || code === 0x5f || code === 0x2a;
}

/** Presentation form of a label: `\.` `\\` and `\DDD` escapes (RFC 1035 §5.1). */
export function formatLabel(label: string): string {
  let text = '';
  for (let i = 0; i < label.length; i++) {
    const code = label.charCodeAt(i);
    if (isPlain(code)) text += label[i];
    else if (code > 0x20 && code < 0x7f) text += '\\' + label[i];
    else text += '\\' + code.toString().padStart(3, '0');
  }
  return text;
}

/** Presentation form, fully qualified with a trailing dot; the root is `.`. */
export function formatName(name: DnsName): string {
  if (name.length === 0) return '.';
  return name.map(formatLabel).join('.') + '.';
}

/**
 * Parses a presentation-form name. Relative names (no trailing dot) are completed with
 * `origin`; `@` is the origin. Throws {@link DecodeError} for bad escapes or lengths.
 */
export function parseName(text: string, origin: DnsName = []): DnsName {
  if (text === '@') return origin;
  if (text === '.') return [];
  if (text.length === 0) throw new DecodeError('empty-name', 'empty domain name');
  const labels: string[] = [];
  let label = '';
  let absolute = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new DecodeError('bad-escape', `dangling backslash in ${JSON.stringify(text)}`);
      if (/[0-9]/.test(next)) {
        const digits = text.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(digits) || Number(digits) > 255) throw new DecodeError('bad-escape', `bad \\DDD escape in ${JSON.stringify(text)}`);
        label += String.fromCharCode(Number(digits));
        i += 3;
      } else {
        label += next;
        i += 1;
      }
    } else if (char === '.') {
      if (label.length === 0) throw new DecodeError('empty-label', `empty label in ${JSON.stringify(text)}`);
      labels.push(label);
      label = '';
      if (i === text.length - 1) absolute = true;
    } else {
      const code = char.charCodeAt(0);
      if (code > 255) throw new DecodeError('bad-character', `non-Latin-1 character in ${JSON.stringify(text)}`);
      label += char;
    }
  }
  if (!absolute) labels.push(label);
  const name = absolute ? labels : [...labels, ...origin];
  checkName(name);
  return name;
}

/** Throws {@link DecodeError} when a label or the whole name is too long. */
export function checkName(name: DnsName): void {
  for (const label of name) {
    if (label.length === 0) throw new DecodeError('empty-label', 'empty label');
    if (label.length > MAX_LABEL_LENGTH) throw new DecodeError('label-too-long', `label longer than ${MAX_LABEL_LENGTH} octets`);
  }
  if (nameWireLength(name) > MAX_NAME_LENGTH) throw new DecodeError('name-too-long', `name longer than ${MAX_NAME_LENGTH} octets`);
}
