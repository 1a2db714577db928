/**
 * Output formats: an aligned text table for the terminal, a Markdown table, and the generated
 * section of bench/RESULTS.md (one per mode, between markers; the hand-written rest is kept).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** Columns padded to their widest cell, a rule under the header. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (row: string[]) => `| ${row.map((cell) => cell.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Replaces (or appends) the section between this mode's markers, leaving everything else as it is. */
export function updateResultsFile(file: string, mode: string, section: string): void {
  const start = `<!-- bench:${mode}:start -->`;
  const end = `<!-- bench:${mode}:end -->`;
  const block = `${start}\n${section.trim()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next = from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end.length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** What a bench writes into its RESULTS.md section: a heading, how it was run, its table and its figures. */
export interface RecordedSection {
  title: string;
  /** The section's marker name in RESULTS.md. */
  mode: string;
  /** The line under the heading: the command, when and where. */
  ran: string;
  header: string[];
  rows: string[][];
  /** Prose after the table, when the figures need saying in words. */
  after?: string;
  json: unknown;
}

/** Rewrites the bench's section of `file` (`--record`): heading, how it ran, table, words, figures as JSON. */
export function recordSection(file: string, section: RecordedSection): void {
  const after = section.after === undefined ? [] : [section.after, ""];
  const text = [`## ${section.title}`, "", section.ran, "", markdownTable(section.header, section.rows), "", ...after, "```json", JSON.stringify(section.json), "```"];
  updateResultsFile(file, section.mode, text.join("\n"));
}
