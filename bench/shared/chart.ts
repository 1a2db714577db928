/**
 * A small dependency-free SVG line chart, enough for "fan-out time against N".
 */

interface Series {
  name: string;
  color: string;
  /** Dashed line, for reference curves such as the ideal bound. */
  dashed?: boolean;
  points: Array<{ x: number; y: number }>;
}

export interface ChartSpec {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const WIDTH = 720;
const HEIGHT = 440;
const MARGIN = { left: 70, right: 190, top: 60, bottom: 55 };

export function lineChartSvg(spec: ChartSpec): string {
  const points = spec.series.flatMap((series) => series.points);
  const xMax = niceCeiling(Math.max(1, ...points.map((p) => p.x)));
  const yMax = niceCeiling(Math.max(1, ...points.map((p) => p.y)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (x / xMax) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${escape(spec.title)}</text>`,
    `<text x="${MARGIN.left}" y="42" fill="#555">${escape(spec.subtitle)}</text>`,
  ];
  for (const tick of ticks(xMax)) {
    parts.push(`<line x1="${sx(tick)}" y1="${MARGIN.top}" x2="${sx(tick)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${sx(tick)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${tick}</text>`);
  }
  for (const tick of ticks(yMax)) {
    parts.push(`<line x1="${MARGIN.left}" y1="${sy(tick)}" x2="${MARGIN.left + plotW}" y2="${sy(tick)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${sy(tick) + 4}" text-anchor="end">${tick}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escape(spec.xLabel)}</text>`);
  parts.push(
    `<text x="18" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${MARGIN.top + plotH / 2})">${escape(spec.yLabel)}</text>`,
  );
  spec.series.forEach((series, index) => {
    const sorted = [...series.points].sort((a, b) => a.x - b.x);
    const path = sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
    const dash = series.dashed ? ` stroke-dasharray="6 4"` : "";
    parts.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
    for (const p of sorted) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${series.color}"/>`);
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + plotW + 15;
    parts.push(`<line x1="${legendX}" y1="${legendY}" x2="${legendX + 22}" y2="${legendY}" stroke="${series.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${legendX + 28}" y="${legendY + 4}">${escape(series.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

// 1, 2 or 5 times a power of ten, at or above `value`.
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

function ticks(max: number): number[] {
  const step = max / 5;
  return Array.from({ length: 6 }, (_, i) => Number((i * step).toPrecision(6)));
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
