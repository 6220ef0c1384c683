// The histogram: one stacked bar per time bucket (Normal, Warning, other), drawn as SVG.
import type { Histogram } from './api.ts';

const svgNs = 'http://www.w3.org/2000/svg';
const kinds = ['normal', 'warning', 'other'] as const;

/** Draws `histogram` into `svg` (100 × 100 user units, stretched) and sets the total. */
export function renderChart(svg: SVGSVGElement, total: HTMLElement, histogram: Histogram): void {
  const buckets = histogram.buckets;
  const highest = Math.max(1, ...buckets.map((b) => b.normal + b.warning + b.other));
  const width = 100 / Math.max(1, buckets.length);
  svg.setAttribute('viewBox', '0 0 100 100');
  const bars: SVGElement[] = [];
  buckets.forEach((bucket, i) => {
    let y = 100;
    const group = document.createElementNS(svgNs, 'g');
    const title = document.createElementNS(svgNs, 'title');
    title.textContent = `${new Date(bucket.start).toLocaleString()}: ${bucket.normal} Normal, ${bucket.warning} Warning, ${bucket.other} other`;
    group.append(title);
    for (const kind of kinds) {
      const count = bucket[kind];
      if (count === 0) continue;
      const height = (count / highest) * 96;
      y -= height;
      const rect = document.createElementNS(svgNs, 'rect');
      rect.setAttribute('class', kind);
      rect.setAttribute('x', String(i * width + width * 0.1));
      rect.setAttribute('width', String(width * 0.8));
      rect.setAttribute('y', String(y));
      rect.setAttribute('height', String(height));
      group.append(rect);
    }
    bars.push(group);
  });
  svg.replaceChildren(...bars);
  total.textContent = histogram.total.toLocaleString('en');
  total.dataset.total = String(histogram.total);
}
