import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkZone, formatRecord, parseName, parseZone, RrType, ZoneError } from '../src/index.js';
import { arbDnsRecord } from '@morgana/testing/dns';

const caaTagOk = (tag: Uint8Array) => tag.length > 0 && tag.every((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
const zoneRecord = arbDnsRecord().filter((r) => r.data.type !== 'CAA' || caaTagOk(r.data.tag));

const example = `
; a zone exercising RFC 1035 §5 syntax
$ORIGIN example.com.
$TTL 1h
@   IN  SOA ns1 hostmaster (
            2026112701 ; serial
            7200 3600 1209600 300 )
    IN  NS  ns1
    IN  NS  ns2.example.net.
ns1     A   192.0.2.1
www 300 IN A 192.0.2.10
        IN 600 A 192.0.2.11
mail    MX  10 mx.example.net.
txt     TXT "hello world" "with \\"quotes\\"" plain \\065\\066
wild    CNAME www
*.apps  A   192.0.2.20
sub     NS  ns.sub
ns.sub  A   192.0.2.53
svc     HTTPS 1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.1,192.0.2.2
gen     TYPE731 \\# 3 abcdef
`;

describe('zone files (RFC 1035 §5)', () => {
  it('parses origins, TTLs, blank owners, parentheses, comments, quotes and escapes', () => {
    const zone = parseZone(example, { origin: 'example.com.', file: 'example.zone' });
    const find = (name: string, type: number) => zone.records.filter((r) => r.name.join('.') === name && r.type === type);
    const soa = find('example.com', RrType.SOA)[0];
    expect(soa.ttl).toBe(3600);
    expect(soa.data).toMatchObject({ type: 'SOA', serial: 2026112701, minimum: 300, mname: ['ns1', 'example', 'com'] });
    expect(find('example.com', RrType.NS)).toHaveLength(2);
    const www = find('www.example.com', RrType.A);
    expect(www.map((r) => r.ttl)).toEqual([300, 600]);
    const txt = find('txt.example.com', RrType.TXT)[0].data;
    expect(txt.type === 'TXT' && txt.strings.map((s) => new TextDecoder().decode(s))).toEqual(['hello world', 'with "quotes"', 'plain', 'AB']);
    const https = find('svc.example.com', RrType.HTTPS)[0].data;
    expect(https.type === 'HTTPS' && https.params.map((p) => p.key)).toEqual([1, 3, 4]);
    expect(find('gen.example.com', 731)[0].data).toEqual({ type: 'unknown', data: new Uint8Array([0xab, 0xcd, 0xef]) });
    expect(checkZone(zone)).toEqual([]);
  });

  it('parses back every record it formats', () => {
    fc.assert(
      fc.property(fc.array(zoneRecord, { maxLength: 8 }), (records) => {
        const text = records.map(formatRecord).join('\n');
        expect(parseZone(text, { origin: [] }).records).toEqual(records);
      }),
      { numRuns: 300 },
    );
  });

  it('names the file, line and column of an error', () => {
    const bad = '$TTL 60\n@ IN SOA a b 1 2 3 4 5\nwww IN A 300.1.2.3\n';
    try {
      parseZone(bad, { origin: 'example.com.', file: 'bad.zone' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ZoneError);
      expect((error as ZoneError).message).toMatch(/^bad\.zone:3:10: /);
    }
    expect(() => parseZone('www IN A 1.2.3.4', { origin: 'example.com.' })).toThrow(/no TTL/);
    expect(() => parseZone('$TTL 5\n( www A 1.2.3.4', { origin: 'example.com.' })).toThrow(/unclosed/);
    expect(() => parseZone('$TTL 5\nwww A 1.2.3.4 extra', { origin: 'example.com.' })).toThrow(/unexpected/);
  });

  it('never throws anything but ZoneError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseZone(text, { origin: 'example.com.' });
        } catch (error) {
          expect(error).toBeInstanceOf(ZoneError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('confines $INCLUDE to the zone folder and follows nested origins', () => {
    const files: Record<string, string> = {
      'zones/hosts.inc': 'a A 192.0.2.1\n$INCLUDE deeper/more.inc\n',
      'zones/deeper/more.inc': 'b A 192.0.2.2\n',
    };
    const include = (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error(`no such file ${path}`);
      return text;
    };
    const zone = parseZone('$TTL 60\n$INCLUDE hosts.inc sub\n', { origin: 'example.com.', file: 'zones/main.zone', include });
    expect(zone.records.map((r) => r.name.join('.'))).toEqual(['a.sub.example.com', 'b.sub.example.com']);
    expect(() => parseZone('$INCLUDE ../secret', { origin: 'example.com.', file: 'zones/main.zone', include })).toThrow(/leaves the zone/);
    expect(() => parseZone('$INCLUDE /etc/passwd', { origin: 'example.com.', file: 'zones/main.zone', include })).toThrow(/relative/);
    const loop = () => 'x A 192.0.2.1\n$INCLUDE self.inc\n';
    expect(() => parseZone('$TTL 1\n$INCLUDE self.inc', { origin: 'example.com.', include: loop })).toThrow(/nested deeper/);
  });

  it('refuses zones without SOA/NS, with CNAME beside data, out-of-zone data, or missing glue', () => {
    const problems = (text: string) => checkZone(parseZone('$TTL 60\n' + text, { origin: 'example.com.' })).map((p) => p.message);
    expect(problems('www A 192.0.2.1')).toEqual(expect.arrayContaining([expect.stringMatching(/SOA/), expect.stringMatching(/no NS/)]));
    const base = '@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n';
    expect(problems(base)).toEqual([]);
    expect(problems(base + 'x CNAME www\nx A 192.0.2.3')).toEqual([expect.stringMatching(/CNAME at x\.example\.com\. beside other data/)]);
    expect(problems(base + 'other.org. A 192.0.2.3')).toEqual([expect.stringMatching(/outside the zone/)]);
    expect(problems(base + 'sub NS ns.sub')).toEqual([expect.stringMatching(/needs glue/)]);
    expect(problems(base + 'sub NS ns.sub\nns.sub A 192.0.2.9')).toEqual([]);
    expect(parseName('ns.sub', ['example', 'com'])).toEqual(['ns', 'sub', 'example', 'com']);
  });
});
