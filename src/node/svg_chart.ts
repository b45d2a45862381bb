/**
 * A line chart as a standalone SVG document: one or more series of (x, y) points over shared
 * axes, linear or log-scaled x, ticks at round values, a legend. No dependency: the benchmark
 * charts of `flotilla bench` are a few dozen points each.
 */
import { assert } from '../util/index.js';

/** One series of a chart. */
export interface ChartSeries {
  label: string;
  points: readonly { x: number; y: number }[];
}

/** What to draw. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Log-scaled x axis (for sweeps over powers of ten). @default false */
  xLog?: boolean;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 90, right: 180, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

const escapeXml = (s: string): string => s.replace(/[<>&"]/g, (c) =>
  ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (hi <= lo) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(3));
}

/** The chart as an SVG document. */
export function renderChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  assert(all.length > 0, 'a chart has points');
  const xLog = spec.xLog === true && all.every((p) => p.x > 0);
  const fx = (x: number): number => (xLog ? Math.log10(x) : x);
  const xs = all.map((p) => fx(p.x));
  const ys = all.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1
    : Math.max(...xs)];
  const y1 = Math.max(...ys, 0) === 0 ? 1 : Math.max(...ys) * 1.05;
  const y0 = Math.min(0, ...ys);
  const pw = WIDTH - MARGIN.left - MARGIN.right;
  const ph = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number): number => MARGIN.left + ((fx(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number): number => MARGIN.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
      `viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15">` +
      `${escapeXml(spec.title)}</text>`,
  ];
  const xTicks = xLog ? ticks(x0, x1).filter(Number.isInteger).map((e) => 10 ** e)
    : ticks(x0, x1);
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${MARGIN.top}" y2="${MARGIN.top + ph}" ` +
      'stroke="#eee"/>', `<text x="${px(t)}" y="${MARGIN.top + ph + 16}" ` +
      `text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + pw}" y1="${py(t)}" y2="${py(t)}" ` +
      'stroke="#eee"/>', `<text x="${MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end">` +
      `${label(t)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${pw}" height="${ph}" ` +
    'fill="none" stroke="#444"/>',
  `<text x="${MARGIN.left + pw / 2}" y="${HEIGHT - 18}" text-anchor="middle">` +
    `${escapeXml(spec.xLabel)}${xLog ? ' (log scale)' : ''}</text>`,
  `<text transform="translate(18 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">` +
    `${escapeXml(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="` +
      `${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" ` +
        `fill="${color}"/>`);
    }
    const ly = MARGIN.top + 14 + i * 18;
    out.push(`<rect x="${WIDTH - MARGIN.right + 12}" y="${ly - 9}" width="12" height="12" ` +
      `fill="${color}"/>`, `<text x="${WIDTH - MARGIN.right + 30}" y="${ly + 1}">` +
      `${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
