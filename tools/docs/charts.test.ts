// Benchmark charts: bars in proportion, ranges drawn as two parts, any text escaped, always well-formed SVG.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BenchmarkComparison, barChart, formatValue } from './charts.js';
import { wellFormedXml } from './xml-check.js';

function comparison(results: BenchmarkComparison['results'], better: 'higher' | 'lower' = 'higher'): BenchmarkComparison {
  return { id: 'x', title: 'A & B <test>', unit: 'ops/s', better, command: 'node x', results };
}

function barWidths(svg: string): number[] {
  return [...svg.matchAll(/<rect class="[mp]" x="\d+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
}

describe('barChart', () => {
  it('draws bars in proportion to the values, the largest across the whole plot', () => {
    const svg = barChart(comparison([{ name: 'morgana', morgana: true, value: 50 }, { name: 'peer', value: 100 }]));
    const [ours, theirs] = barWidths(svg);
    expect(theirs).toBe(330);
    expect(ours).toBe(165);
    expect(svg).toContain('<rect class="m"');
    expect(svg).toContain('<rect class="p"');
  });

  it('draws a range as a solid bar to its low end and a lighter one to its high end', () => {
    const svg = barChart(comparison([{ name: 'a', value: 100, low: 60 }]));
    expect(svg).toMatch(/<rect class="p" x="300" y="[\d.]+" width="198.0"/);
    expect(svg).toMatch(/<rect class="p r" x="498.0" y="[\d.]+" width="132.0"/);
    expect(svg).toContain('>60–100</text>');
  });

  it('says which way is better and escapes every text', () => {
    const svg = barChart(comparison([{ name: '<b>"q"</b>', value: 1 }], 'lower'));
    expect(svg).toContain('ops/s, lower is better');
    expect(svg).toContain('&lt;b&gt;&quot;q&quot;&lt;/b&gt;');
    expect(svg).toContain('A &amp; B &lt;test&gt;');
    expect(barChart(comparison([{ name: 'a\u0000b\u001f', value: 1 }]))).toContain('>ab</text>');
  });

  it('is well-formed SVG for any names and values', () => {
    const result = fc.record({ name: fc.string({ maxLength: 40 }), morgana: fc.boolean(), value: fc.double({ min: 0, max: 1e12, noNaN: true }) });
    fc.assert(
      fc.property(fc.array(result, { minLength: 1, maxLength: 8 }), fc.constantFrom<'higher' | 'lower'>('higher', 'lower'), (results, better) => {
        const svg = barChart(comparison(results, better));
        expect(wellFormedXml(svg)).toBeUndefined();
        expect(barWidths(svg).every((width) => width >= 0 && width <= 330)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

describe('formatValue', () => {
  it('groups thousands and keeps small figures short', () => {
    expect([formatValue(149542), formatValue(232), formatValue(12.5), formatValue(0.53), formatValue(0)]).toEqual(['149,542', '232', '12.5', '0.53', '0']);
  });
});
