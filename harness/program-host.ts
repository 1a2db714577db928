/**
 * Child-process entry started by runProgram(): sets the recording mocks, loads index.ts as the
 * Pulumi runtime would, waits for every registration, and writes a ProgramReport as JSON.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { createRecordingMocks, type RecordedResource } from "./pulumi-mocks";
import { HOST_ENV, PROJECT, ROOT, type ArchiveReport, type ProgramReport, type ReportedResource } from "./program-run";

async function main(): Promise<void> {
  const reportPath = process.env[HOST_ENV.report];
  if (!reportPath) throw new Error(`${HOST_ENV.report} is not set`);
  const { mocks, resources, calls } = createRecordingMocks();
  await pulumi.runtime.setMocks(mocks, PROJECT, process.env[HOST_ENV.stack] ?? "dev", false);
  const monitor = pulumi.runtime.getMonitor();
  if (!(monitor instanceof MockMonitor)) throw new Error("expected the mock monitor");
  const options = recordOptions(monitor);

  const report: ProgramReport = { resources: [], outputs: {}, archives: {}, calls };
  try {
    // Loaded by path, as the Pulumi runtime loads a program, after the mocks are in place.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require(path.join(ROOT, "index.ts")) as Record<string, unknown>;
    for (const [name, value] of Object.entries(program)) report.outputs[name] = await settle(value);
  } catch (err) {
    report.error = err instanceof Error ? { name: err.name, message: err.message } : { name: "Unknown", message: String(err) };
  }
  await pulumi.runtime.disconnect();

  for (const resource of resources) {
    report.resources.push(describe(resource, [...monitor.resources.keys()], options));
    if (resource.type === "aws:lambda/function:Function") report.archives[String(resource.inputs.name)] = await readArchive(resource.inputs.code);
  }
  await fs.writeFile(reportPath, JSON.stringify(report));
}

function settle(value: unknown): Promise<unknown> {
  return pulumi.Output.isInstance(value) ? new Promise((resolve) => value.apply(resolve)) : Promise.resolve(value);
}

interface RegistrationOptions {
  retainOnDelete: boolean;
  dependencies: string[];
}

// Resource options never reach the mocks, so read them off each registration request.
function recordOptions(monitor: MockMonitor): Map<string, RegistrationOptions> {
  const options = new Map<string, RegistrationOptions>();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request: RegisterResourceRequest, callback) => {
    options.set(`${request.getType()}::${request.getName()}`, {
      retainOnDelete: request.getRetainondelete() === true,
      dependencies: request.getDependenciesList(),
    });
    return register(request, callback);
  };
  return options;
}

// URNs read `urn:pulumi:{stack}::{project}::{parentType$…$type}::{name}`; the mock monitor keys
// its resources by URN.
function describe(resource: RecordedResource, urns: string[], options: Map<string, RegistrationOptions>): ReportedResource {
  const urnParts = (urn: string) => urn.split("::");
  const own = urns.map(urnParts).find((parts) => parts[3] === resource.name && parts[2].split("$").at(-1) === resource.type);
  const registration = options.get(`${resource.type}::${resource.name}`);
  if (!own || !registration) throw new Error(`no registration for ${resource.type} ${resource.name}`);
  const { code: _inputCode, ...inputs } = resource.inputs;
  const { code: _stateCode, ...state } = resource.state;
  return {
    type: resource.type,
    name: resource.name,
    parents: own[2].split("$").slice(0, -1),
    id: resource.id,
    inputs,
    secretInputs: resource.secretInputs,
    state,
    retainOnDelete: registration.retainOnDelete,
    dependsOn: registration.dependencies.map((urn) => urnParts(urn)[3]),
  };
}

async function readArchive(code: unknown): Promise<ArchiveReport> {
  if (!(code instanceof pulumi.asset.AssetArchive)) throw new Error("a function's code is not an AssetArchive");
  const report: ArchiveReport = { files: {}, indexJs: "" };
  for (const [name, entry] of Object.entries(await code.assets)) {
    if (entry instanceof pulumi.asset.StringAsset) {
      const text = await entry.text;
      report.files[name] = Buffer.byteLength(text);
      if (name === "__index.js") report.indexJs = text;
    } else if (entry instanceof pulumi.asset.FileArchive || entry instanceof pulumi.asset.FileAsset) {
      report.files[name] = await diskUsage(path.resolve(ROOT, await entry.path));
    } else {
      throw new Error(`unexpected archive entry ${name}`);
    }
  }
  return report;
}

async function diskUsage(target: string): Promise<number> {
  const stat = await fs.lstat(target);
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const child of await fs.readdir(target)) total += await diskUsage(path.join(target, child));
  return total;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
