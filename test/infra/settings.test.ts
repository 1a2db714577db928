/**
 * The settings table (runtime/config/settings.ts) against what is written elsewhere: Pulumi.yaml's
 * `config:` schema, the settings tables in the docs, and the emulator's `--help`.
 */
import test from "ava";
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { ROOT } from "../../harness/program-run";
import { ENV } from "../../runtime/config/environment";
import { describeSetting, type Setting } from "../../runtime/config/setting";
import { SETTINGS } from "../../runtime/config/settings";
import { runCli } from "../helpers/cli";

const entries = Object.entries(SETTINGS) as Array<[string, Setting]>;
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** The schema type Pulumi checks a setting's value against. */
function pulumiType(setting: Setting): string {
  if (setting.kind === "list") return "array";
  if (setting.kind === "integer" || typeof setting.default === "number") return "integer";
  return setting.kind === "boolean" ? "boolean" : "string";
}

test("Pulumi.yaml's config: schema is the table's stack settings, each with its type, default and description", (t) => {
  const schema = (load(read("Pulumi.yaml")) as { config: Record<string, { type: string; default: unknown; description: string }> }).config;
  const stack = entries.filter(([, setting]) => setting.homes.stack);
  t.deepEqual(Object.keys(schema).sort(), stack.map(([name]) => name).sort());
  for (const [name, setting] of stack) {
    t.is(schema[name].type, pulumiType(setting), name);
    t.deepEqual(schema[name].default, setting.default ?? "", name);
    t.is(schema[name].description, describeSetting(name, setting), name);
  }
});

/** The rows of the markdown table whose header row starts with `| first |`: first cell → second cell. */
function tableRows(file: string, first: string): Array<[string, string]> {
  const lines = read(file).split("\n");
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`));
  if (start < 0) throw new Error(`${file} has no table headed "${first}"`);
  const rows: Array<[string, string]> = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    const [cell, value] = line.split(/(?<!\\) \| /).map((part) => part.replace(/^\| /, "").trim());
    rows.push([cell, value]);
  }
  return rows;
}

/** The default a doc cell states ("`direct`", "131072 (…)"), or undefined for unset ones ("unset", "required", "any"). */
function statedDefault(cell: string): string {
  return cell.replaceAll("`", "").split(" ")[0];
}

/** Checks one doc cell against a setting's default: a set default must be the cell's first word. */
function agrees(setting: Setting, cell: string): boolean {
  if (setting.default === undefined || Array.isArray(setting.default)) return true;
  return statedDefault(cell) === String(setting.default);
}

test("docs/deploy.md's configuration table: one row per stack setting, with its default", (t) => {
  const rows = tableRows("docs/deploy.md", "key");
  const documented = new Map(rows.map(([key, value]) => [key.replaceAll("`", ""), value]));
  t.deepEqual([...documented.keys()].sort(), entries.filter(([, setting]) => setting.homes.stack).map(([name]) => name).sort());
  for (const [key, cell] of documented) t.true(agrees(SETTINGS[key as keyof typeof SETTINGS], cell), `${key}: "${cell}"`);
});

test('docs/architecture.md\'s "Lambda environment" table: one row per variable the handlers read, with its default', (t) => {
  const rows = tableRows("docs/architecture.md", "variable");
  const documented = new Map(rows.map(([variable, value]) => [variable.replaceAll("`", ""), value]));
  t.deepEqual([...documented.keys()].sort(), Object.values(ENV).sort());
  for (const [name, setting] of entries) {
    if (setting.homes.env === undefined) continue;
    t.true(agrees(setting, documented.get(setting.homes.env) ?? ""), `${setting.homes.env} (${name}): "${documented.get(setting.homes.env)}"`);
  }
});

test("docs/emulator.md's flag table: every flag once, with its default", (t) => {
  const flags = new Map<string, string>();
  for (const [cell, value] of tableRows("docs/emulator.md", "flag")) {
    const names = [...cell.matchAll(/`--([a-z-]+)/g)].map((match) => match[1]);
    const defaults = value.split(", ");
    names.forEach((name, index) => flags.set(name, defaults[names.length === defaults.length ? index : 0]));
  }
  const withFlag = entries.filter(([, setting]) => setting.homes.flag !== undefined);
  t.deepEqual([...flags.keys()].sort(), withFlag.map(([, setting]) => setting.homes.flag as string).sort());
  for (const [name, setting] of withFlag) {
    const flag = setting.homes.flag as string;
    t.true(agrees(setting, flags.get(flag) ?? ""), `--${flag} (${name}): "${flags.get(flag)}"`);
  }
});

test("npm start -- --help lists every flag of the table with its range and default", async (t) => {
  const cli = runCli(t, ["--help"]);
  t.is(await cli.exited(), 0);
  const help = cli.stdout();
  for (const [name, setting] of entries) {
    if (setting.homes.flag === undefined) continue;
    const line = help.split("\n").find((row) => row.trimStart().startsWith(`--${setting.homes.flag} `) || row.trim() === `--${setting.homes.flag}`);
    t.truthy(line, `--${setting.homes.flag}`);
    t.true(line?.includes(describeSetting(name, setting, "emulator")), `${name}: ${line}`);
    if (setting.kind === "integer") t.true(line?.includes(`Default ${String(setting.default)}.`), `${name}: ${line}`);
  }
});
