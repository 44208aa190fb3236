/**
 * The replay report: `report.json` (everything needed to compare runs; deterministic except `timing`),
 * `report.html` (charts with uPlot inlined, so it opens offline) and a PNG of the main chart rendered by
 * headless Chromium.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ClassificationMetrics, MetricsReport, ReportCounts, WindowedMetrics } from '../evaluate/report.js';
import type { PipelineState } from './pipeline.js';
import type { PartitionRange } from './range.js';
import type { Topology } from './spec.js';

/** One metrics report, flattened for charts. */
export interface SeriesPoint {
  readonly sequence: number;
  readonly trigger: MetricsReport['trigger'];
  /** Event time of the report, ms since the epoch. */
  readonly time: number;
  readonly messages: number;
  readonly labelled: number;
  readonly scored: number;
  readonly accuracy: number;
  readonly macroF1: number;
  readonly logLoss: number;
  readonly kappa: number;
  readonly rollingAccuracy: number | null;
  readonly rollingMacroF1: number | null;
  readonly rollingLogLoss: number | null;
  readonly timeWindowAccuracy: number | null;
  readonly fadingAccuracy: number | null;
}

export function seriesPoint(r: MetricsReport): SeriesPoint {
  return {
    sequence: r.sequence,
    trigger: r.trigger,
    time: r.timestamp,
    messages: r.counts.messages,
    labelled: r.counts.labelled,
    scored: r.counts.scored,
    accuracy: r.overall.accuracy,
    macroF1: r.overall.macroF1,
    logLoss: r.overall.logLoss,
    kappa: r.overall.kappa,
    rollingAccuracy: r.rolling?.accuracy ?? null,
    rollingMacroF1: r.rolling?.macroF1 ?? null,
    rollingLogLoss: r.rolling?.logLoss ?? null,
    timeWindowAccuracy: r.timeWindow?.accuracy ?? null,
    fadingAccuracy: r.fading?.accuracy ?? null,
  };
}

type WindowSummary = Pick<WindowedMetrics, 'kind' | 'size' | 'count' | 'accuracy' | 'macroF1' | 'logLoss' | 'kappa'>;

export interface FinalMetrics extends Omit<ClassificationMetrics, never> {
  readonly counts: ReportCounts | null;
  readonly rolling: WindowSummary | null;
  readonly timeWindow: WindowSummary | null;
  readonly fading: WindowSummary | null;
}

export interface ReplayRun {
  readonly topology: string;
  readonly description: string | null;
  /** sha256 of the validated topology. */
  readonly hash: string;
  readonly runId: string;
  readonly learnOn: string;
  readonly model: string;
  readonly sample: { readonly method: string; readonly size: number };
  readonly counts: { readonly seen: number; readonly labelled: number; readonly deadLetters: number };
  /** The last report's figures over the whole range. */
  readonly final: FinalMetrics;
  /** Dead letters by reason (error code). */
  readonly deadLetters: Readonly<Record<string, number>>;
  readonly series: readonly SeriesPoint[];
  /** Records published, per output topic. */
  readonly published: Readonly<Record<string, number>>;
}

export interface ReplayReport {
  readonly format: 'tokrs-replay-report/1';
  readonly source:
    | { readonly kind: 'kafka'; readonly topics: readonly string[] }
    | { readonly kind: 'file'; readonly topics: readonly string[]; readonly file: string; readonly sha256: string; readonly lines: number };
  readonly range: {
    readonly from: string;
    readonly to: string;
    readonly partitions: readonly (PartitionRange & { readonly messages: number })[];
    /** Offsets in the range (a compacted topic may hold fewer messages). */
    readonly messages: number;
    /** Messages actually replayed. */
    readonly replayed: number;
    readonly firstTimestamp: number | null;
    readonly lastTimestamp: number | null;
  };
  /** Where outputs went; null with --no-publish. */
  readonly publish: { readonly prefix: string } | null;
  readonly runs: readonly ReplayRun[];
  /** Wall-clock fields: the only part that differs between two replays of the same range. */
  readonly timing: {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly durationMs: number;
    readonly messagesPerSecond: number | null;
  };
}

const EMPTY: ClassificationMetrics = {
  count: 0,
  accuracy: 0,
  macroF1: 0,
  microF1: 0,
  weightedF1: 0,
  macroPrecision: 0,
  macroRecall: 0,
  logLoss: 0,
  kappa: 0,
  perClass: [],
  confusion: { labels: [], matrix: [] },
};

const windowSummary = (w: WindowedMetrics | null): WindowSummary | null =>
  w === null ? null : { kind: w.kind, size: w.size, count: w.count, accuracy: w.accuracy, macroF1: w.macroF1, logLoss: w.logLoss, kappa: w.kappa };

export function summarize(input: {
  topology: Topology;
  hash: string;
  runId: string;
  state: PipelineState;
  series: readonly SeriesPoint[];
  published: Record<string, number>;
}): ReplayRun {
  const { topology: t, state } = input;
  const last = state.lastReport;
  const deadLetters = Object.fromEntries(Object.entries(state.deadLetters).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    topology: t.name,
    description: t.description ?? null,
    hash: input.hash,
    runId: input.runId,
    learnOn: t.train.learnOn,
    model: t.model.type,
    sample: { method: t.sample.method, size: t.sample.size },
    counts: { seen: state.seen, labelled: state.labelled, deadLetters: Object.values(deadLetters).reduce((a, b) => a + b, 0) },
    final: {
      ...(last?.overall ?? EMPTY),
      counts: last?.counts ?? null,
      rolling: windowSummary(last?.rolling ?? null),
      timeWindow: windowSummary(last?.timeWindow ?? null),
      fading: windowSummary(last?.fading ?? null),
    },
    deadLetters,
    series: input.series,
    published: input.published,
  };
}

/** The report without its wall-clock fields: what two replays of the same range must agree on. */
export function deterministicPart(report: ReplayReport): Omit<ReplayReport, 'timing'> {
  const { timing: _timing, ...rest } = report;
  return rest;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const num = (x: number, digits = 4): string => x.toFixed(digits);

function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return { js: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8') };
}

/** Charts rendered in the browser from the embedded series: one chart per metric, every run on it. */
const CHART_SCRIPT = `
(function () {
  var report = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
  var charts = [
    { id: 'chart-accuracy', title: 'Accuracy (prequential)', overall: 'accuracy', rolling: 'rollingAccuracy', unit: true },
    { id: 'chart-macroF1', title: 'Macro F1', overall: 'macroF1', rolling: 'rollingMacroF1', unit: true },
    { id: 'chart-logLoss', title: 'Log loss', overall: 'logLoss', rolling: 'rollingLogLoss', unit: false }
  ];
  // x: messages seen; the union over runs, so A/B runs share one axis (gaps where a run has no report).
  var xs = {};
  report.runs.forEach(function (run) { run.series.forEach(function (p) { xs[p.messages] = true; }); });
  var x = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
  var index = {};
  x.forEach(function (v, i) { index[v] = i; });
  var width = Math.min(1000, document.body.clientWidth - 40);
  charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    if (x.length === 0) { el.textContent = 'No metrics reports in this range.'; return; }
    var data = [x];
    var series = [{ label: 'messages' }];
    report.runs.forEach(function (run, r) {
      var color = palette[r % palette.length];
      [['overall', c.overall, []], ['rolling', c.rolling, [6, 4]]].forEach(function (kind) {
        var ys = x.map(function () { return null; });
        var any = false;
        run.series.forEach(function (p) { var v = p[kind[1]]; if (v !== null && v !== undefined) { ys[index[p.messages]] = v; any = true; } });
        if (!any) return;
        data.push(ys);
        series.push({ label: run.topology + ' (' + kind[0] + ')', stroke: color, width: 2, dash: kind[2], spanGaps: true,
          value: function (u, v) { return v == null ? '-' : v.toFixed(4); } });
      });
    });
    new uPlot({ title: c.title, width: width, height: 300, series: series, scales: { x: { time: false }, y: c.unit ? { range: function (u, min, max) { return [Math.max(0, Math.floor((min - 0.02) * 20) / 20), Math.min(1, Math.ceil((max + 0.02) * 20) / 20)]; } } : { range: function (u, min, max) { return [0, Math.max(max, 0.1) * 1.05]; } } },
      axes: [{ label: 'messages' }, {}] }, data, el);
  });
  document.body.setAttribute('data-charts', 'ready');
})();
`;

/** report.html: final metrics in one table, charts of the series, dead letters; no network needed. */
export function renderHtml(report: ReplayReport): string {
  const { js, css } = uplotAssets();
  const names = report.runs.map((r) => r.topology).join(' vs ');
  const rows = report.runs
    .map((r) => {
      const f = r.final;
      return `<tr><td>${escapeHtml(r.topology)}</td><td><code title="${r.hash}">${r.hash.slice(0, 12)}</code></td><td>${escapeHtml(r.learnOn)}</td><td>${escapeHtml(r.model)}</td><td>${escapeHtml(`${r.sample.method} ${r.sample.size}`)}</td><td class="n">${r.counts.seen}</td><td class="n">${f.count}</td><td class="n">${pct(f.accuracy)}</td><td class="n">${num(f.macroF1)}</td><td class="n">${num(f.logLoss)}</td><td class="n">${num(f.kappa)}</td><td class="n">${f.rolling === null ? '–' : pct(f.rolling.accuracy)}</td><td class="n">${r.counts.deadLetters}</td></tr>`;
    })
    .join('\n');
  const reasons = [...new Set(report.runs.flatMap((r) => Object.keys(r.deadLetters)))].sort();
  const deadLetters =
    reasons.length === 0
      ? '<p>No dead letters.</p>'
      : `<table><tr><th>reason</th>${report.runs.map((r) => `<th>${escapeHtml(r.topology)}</th>`).join('')}</tr>${reasons
          .map((code) => `<tr><td><code>${escapeHtml(code)}</code></td>${report.runs.map((r) => `<td class="n">${r.deadLetters[code] ?? 0}</td>`).join('')}</tr>`)
          .join('')}</table>`;
  const partitions = report.range.partitions
    .map((p) => `<tr><td>${escapeHtml(p.topic)}</td><td class="n">${p.partition}</td><td class="n">${p.start}</td><td class="n">${p.end}</td><td class="n">${p.messages}</td></tr>`)
    .join('');
  const time = (ms: number | null): string => (ms === null ? '–' : new Date(ms).toISOString());
  const data = JSON.stringify({ runs: report.runs.map((r) => ({ topology: r.topology, series: r.series })) }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tokrs replay: ${escapeHtml(names)}</title>
<style>${css}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin: 12px 0 24px; }
.meta { color: #555; }
</style></head>
<body>
<h1>Replay: ${escapeHtml(names)}</h1>
<p class="meta">Source: ${escapeHtml(report.source.kind === 'file' ? `file ${report.source.file} (sha256 ${report.source.sha256.slice(0, 12)})` : `topics ${report.source.topics.join(', ')}`)} ·
from <code>${escapeHtml(report.range.from)}</code> to <code>${escapeHtml(report.range.to)}</code> ·
${report.range.replayed} messages, event time ${time(report.range.firstTimestamp)} – ${time(report.range.lastTimestamp)} ·
${report.timing.durationMs} ms (${report.timing.messagesPerSecond ?? '–'} msg/s)</p>
<h2>Final metrics</h2>
<table id="final"><tr><th>topology</th><th>hash</th><th>learnOn</th><th>model</th><th>sample</th><th>messages</th><th>scored</th><th>accuracy</th><th>macro F1</th><th>log loss</th><th>kappa</th><th>rolling acc.</th><th>dead letters</th></tr>
${rows}</table>
<h2>Metrics over the range</h2>
<p class="meta">Solid: everything so far; dashed: rolling window. x: messages replayed.</p>
<div class="chart" id="chart-accuracy"></div>
<div class="chart" id="chart-macroF1"></div>
<div class="chart" id="chart-logLoss"></div>
<h2>Dead letters by reason</h2>
${deadLetters}
<h2>Range</h2>
<table><tr><th>topic</th><th>partition</th><th>start</th><th>end (excl.)</th><th>messages</th></tr>${partitions}</table>
<p class="meta">Run ids: ${report.runs.map((r) => `${escapeHtml(r.topology)} <code>${escapeHtml(r.runId)}</code>`).join(', ')}</p>
<script>${js}</script>
<script id="report-data" type="application/json">${data}</script>
<script>${CHART_SCRIPT}</script>
</body></html>
`;
}

export interface WrittenReport {
  json: string;
  html: string;
  /** Absent when no Chromium was found (the reason is in `pngSkipped`). */
  png?: string;
  pngSkipped?: string;
}

/** Chromium for the PNG: TOKRS_CHROMIUM, else Debian's. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.TOKRS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '');
  return candidates.find((p) => existsSync(p));
}

/** Renders `htmlFile` in headless Chromium and screenshots one element (the main chart by default). */
export async function screenshotChart(htmlFile: string, pngFile: string, selector = '#chart-accuracy'): Promise<void> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error('no Chromium found (set TOKRS_CHROMIUM)');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    await page.goto(pathToFileURL(htmlFile).href);
    await page.waitForSelector('body[data-charts="ready"]', { timeout: 15_000 });
    await page.locator(selector).screenshot({ path: pngFile });
  } finally {
    await browser.close();
  }
}

/** Writes report.json, report.html and report.png (the accuracy chart) into `dir`. */
export async function writeReport(report: ReplayReport, dir: string, options: { png?: boolean } = {}): Promise<WrittenReport> {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtml(report));
  if (options.png === false) return { json, html, pngSkipped: 'not asked for' };
  const png = join(dir, 'report.png');
  try {
    await screenshotChart(html, png);
    return { json, html, png };
  } catch (error) {
    return { json, html, pngSkipped: error instanceof Error ? error.message : String(error) };
  }
}
