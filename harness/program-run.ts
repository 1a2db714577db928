/**
 * runProgram: runs index.ts under Pulumi mocks in a fresh child process (mocks and the require
 * cache are process-global, so each config set gets its own) and returns what it declared.
 * harness/ holds what both test/ and bench/ use; it imports neither, and bench/ never imports test/.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import { readFileSync } from "node:fs";
import * as yaml from "js-yaml";

export const ROOT = path.resolve(__dirname, "..");
export const PROJECT = "message-broadcast";
const HOST = path.join(__dirname, "program-host.ts");

/** Environment the host reads. */
export const HOST_ENV = { report: "PROGRAM_REPORT", stack: "PROGRAM_STACK", host: "PROGRAM_HOST" } as const;

export interface ReportedResource {
  type: string;
  name: string;
  /** Types of the resource's ancestors, outermost first (from its URN). */
  parents: string[];
  id: string;
  /** The inputs as the program gave them (a function's `code` is under `archives`). */
  inputs: Record<string, unknown>;
  /** Paths of inputs the program passed as secrets. */
  secretInputs: string[];
  state: Record<string, unknown>;
  retainOnDelete: boolean;
  /** Names of the resources it waits for, explicit `dependsOn` and input references alike. */
  dependsOn: string[];
}

export interface ArchiveReport {
  /** Archive entry → bytes (a directory entry counts every file under it). */
  files: Record<string, number>;
  /** The serialized handler module, `__index.js`. */
  indexJs: string;
}

export interface ProgramReport {
  /** Set when the program threw; resources then lists what was registered before. */
  error?: { name: string; message: string };
  resources: ReportedResource[];
  outputs: Record<string, unknown>;
  /** By function name. */
  archives: Record<string, ArchiveReport>;
  calls: string[];
}

/**
 * "tsx" is the fast loader ava uses. "pulumi" is how Pulumi's Node runtime starts this program
 * with Pulumi.yaml's runtime options: TypeScript support off (`typescript: false`), so node runs
 * with `nodeargs` (ts-node's transpile-only register, tsconfig.json's options) and requires the
 * program; nothing type-checks it, as nothing does under `pulumi preview`.
 */
type Loader = "tsx" | "pulumi";

/** Pulumi.yaml's `runtime.options`. */
export function pulumiRuntimeOptions(): { typescript?: boolean; nodeargs?: string } {
  const project = yaml.load(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { runtime: { options?: { typescript?: boolean; nodeargs?: string } } };
  return project.runtime.options ?? {};
}

function pulumiNodeArguments(entry: string): string[] {
  const options = pulumiRuntimeOptions();
  if (options.typescript !== false) throw new Error("Pulumi.yaml turns Pulumi's own TypeScript support on: this harness mirrors only typescript: false with nodeargs");
  // Pulumi splits nodeargs on whitespace and puts them before its run script.
  return [...(options.nodeargs ?? "").split(/\s+/).filter(Boolean), entry];
}

export interface RunOptions {
  /** Short keys get the project namespace; `aws:region` defaults to the mocks' region. */
  config?: Record<string, string>;
  /** Keys (short) to mark as secrets, as `pulumi config set --secret` would. */
  secrets?: string[];
  stack?: string;
  loader?: Loader;
  /** Another entry module instead of the host (tests of the loader itself). */
  entry?: string;
}

const fullKey = (key: string) => (key.includes(":") ? key : `${PROJECT}:${key}`);

function loaderCommand(loader: Loader, entry: string): string[] {
  return loader === "tsx" ? ["--import=tsx", entry] : pulumiNodeArguments(entry);
}

export async function runProgram(options: RunOptions = {}): Promise<ProgramReport> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "program-report-"));
  const reportPath = path.join(dir, "report.json");
  const config = Object.fromEntries(Object.entries({ "aws:region": "ap-northeast-2", ...options.config }).map(([k, v]) => [fullKey(k), v]));
  const entry = options.entry ?? HOST;
  try {
    await promisify(execFile)(process.execPath, loaderCommand(options.loader ?? "tsx", entry), {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...process.env,
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify((options.secrets ?? []).map(fullKey)),
        [HOST_ENV.report]: reportPath,
        [HOST_ENV.stack]: options.stack ?? "dev",
        [HOST_ENV.host]: entry,
      },
    });
    return JSON.parse(await fs.readFile(reportPath, "utf8")) as ProgramReport;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
