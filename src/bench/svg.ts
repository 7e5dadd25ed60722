// A grouped bar chart as a self-contained SVG (no charting dependency): one group per workload,
// one bar per series, optional whiskers (an interval) and a reference line (e.g. 1.0 = baseline).

export interface Bar {
  series: string;
  value: number;
  /** whisker from lo to hi (e.g. a 95% confidence interval) */
  lo?: number;
  hi?: number;
  /** text above the bar (default: the value) */
  text?: string;
}

export interface Group {
  label: string;
  /** second line under the label (e.g. the unit or the absolute numbers) */
  sublabel?: string;
  bars: Bar[];
}

export interface ChartSpec {
  title: string;
  /** lines under the title (machine, load) */
  subtitle?: string[];
  yLabel: string;
  series: { name: string; color: string }[];
  groups: Group[];
  /** horizontal reference line, e.g. 1 for "same as baseline" */
  refLine?: { value: number; label: string };
  width?: number;
  height?: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round a step up to 1, 2 or 5 times a power of ten. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

const n = (x: number) => (Math.round(x * 10) / 10).toString();

export function barChart(c: ChartSpec): string {
  const width = c.width ?? 860;
  const subtitle = c.subtitle ?? [];
  const top = 44 + subtitle.length * 16 + c.series.length * 18 + 10; // title, subtitles, legend (one line per series)
  const bottom = 58;
  const left = 64;
  const right = c.refLine ? 100 : 20; // the reference line's label sits in the right margin
  const height = c.height ?? top + 300 + bottom;
  const plotH = height - top - bottom;
  const plotW = width - left - right;

  const values = c.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.hi ?? b.value]));
  if (c.refLine) values.push(c.refLine.value);
  const finite = values.filter((v) => Number.isFinite(v));
  const maxV = Math.max(0, ...finite) || 1;
  const step = niceStep(maxV / 5);
  const yMax = Math.ceil((maxV * 1.12) / step) * step;
  const y = (v: number) => top + plotH - (Math.max(0, Math.min(v, yMax)) / yMax) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(c.title)}</text>`);
  subtitle.forEach((s, i) => out.push(`<text x="${left}" y="${44 + i * 16}" fill="#555555">${escapeXml(s)}</text>`));

  // legend
  c.series.forEach((s, i) => {
    const ly = 44 + subtitle.length * 16 + 6 + i * 18;
    out.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${left + 16}" y="${ly}">${escapeXml(s.name)}</text>`);
  });

  // grid and y axis
  for (let v = 0; v <= yMax + step / 1e6; v += step) {
    const yy = n(y(v));
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${n(y(v) + 4)}" text-anchor="end" fill="#555555">${escapeXml(fmtTick(v, step))}</text>`);
  }
  out.push(`<text transform="translate(16 ${n(top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="#333333">${escapeXml(c.yLabel)}</text>`);
  out.push(`<line x1="${left}" y1="${n(top + plotH)}" x2="${width - right}" y2="${n(top + plotH)}" stroke="#333333"/>`);

  // bars
  const gw = plotW / Math.max(1, c.groups.length);
  const nSeries = Math.max(1, c.series.length);
  const bw = Math.min(56, (gw * 0.7) / nSeries);
  c.groups.forEach((g, gi) => {
    // the bars a group has, side by side and centred (a group may lack a series)
    const gx = left + gi * gw + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const si = Math.max(0, c.series.findIndex((s) => s.name === b.series));
      const color = c.series[si]?.color ?? '#888888';
      const x = gx + bi * bw;
      if (!Number.isFinite(b.value)) return;
      const yTop = y(b.value);
      out.push(`<rect x="${n(x + 2)}" y="${n(yTop)}" width="${n(bw - 4)}" height="${n(top + plotH - yTop)}" fill="${color}"><title>${escapeXml(`${g.label}, ${b.series}: ${b.text ?? b.value}`)}</title></rect>`);
      let textY = yTop - 4;
      if (b.lo !== undefined && b.hi !== undefined && Number.isFinite(b.lo) && Number.isFinite(b.hi)) {
        const cx = n(x + bw / 2);
        out.push(`<line x1="${cx}" y1="${n(y(b.lo))}" x2="${cx}" y2="${n(y(b.hi))}" stroke="#222222"/>`);
        out.push(`<line x1="${n(x + bw / 2 - 5)}" y1="${n(y(b.hi))}" x2="${n(x + bw / 2 + 5)}" y2="${n(y(b.hi))}" stroke="#222222"/>`);
        out.push(`<line x1="${n(x + bw / 2 - 5)}" y1="${n(y(b.lo))}" x2="${n(x + bw / 2 + 5)}" y2="${n(y(b.lo))}" stroke="#222222"/>`);
        textY = Math.min(textY, y(b.hi) - 4);
      }
      out.push(`<text x="${n(x + bw / 2)}" y="${n(textY)}" text-anchor="middle" font-size="11">${escapeXml(b.text ?? String(b.value))}</text>`);
    });
    const cx = n(left + gi * gw + gw / 2);
    out.push(`<text x="${cx}" y="${n(top + plotH + 18)}" text-anchor="middle" font-weight="bold">${escapeXml(g.label)}</text>`);
    if (g.sublabel) out.push(`<text x="${cx}" y="${n(top + plotH + 34)}" text-anchor="middle" fill="#555555" font-size="11">${escapeXml(g.sublabel)}</text>`);
  });

  if (c.refLine && Number.isFinite(c.refLine.value)) {
    const yy = n(y(c.refLine.value));
    out.push(`<line x1="${left}" y1="${yy}" x2="${width - right}" y2="${yy}" stroke="#c0392b" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${width - right + 4}" y="${n(y(c.refLine.value) + 4)}" fill="#c0392b" font-size="11">${escapeXml(c.refLine.label)}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function fmtTick(v: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
  return v.toFixed(decimals);
}
