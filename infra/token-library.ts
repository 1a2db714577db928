/**
 * The files of jose the connect function's code loads (runtime/access/token-verifier.ts requires
 * jose's subpath entries), as archive paths. CallbackFunction would otherwise put the whole
 * package (550 KB) into every function; the connect function gets only what its token check
 * loads: about 68 KB with jwtSecret, 95 KB with jwksUrl, nothing without either.
 */
import * as path from "node:path";

const PACKAGE = "jose";
/** The entries the verifier requires, per way of checking tokens. */
const ENTRIES = {
  secret: ["jose/jwt/verify"],
  keySet: ["jose/jwt/verify", "jose/jwks/remote"],
} as const;

export type TokenCheck = keyof typeof ENTRIES;

/** The `require` specifiers the connect function's code uses for `check`. */
export function tokenLibraryEntries(check: TokenCheck): readonly string[] {
  return ENTRIES[check];
}

/**
 * `node_modules/jose/…` for every module `check`'s entries load, and the package.json that maps
 * the entries. Read from the module graph Node builds when they are required: each module's
 * `children` lists every module it required, whether it loaded it first or not.
 */
export function tokenLibraryFiles(check: TokenCheck): string[] {
  const root = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  const files = new Set<string>([path.join(root, "package.json")]);
  const visit = (module: NodeJS.Module | undefined) => {
    if (module === undefined || files.has(module.filename) || !module.filename.startsWith(root + path.sep)) return;
    files.add(module.filename);
    for (const child of module.children) visit(child);
  };
  for (const entry of ENTRIES[check]) {
    // Loading them here is what lets their graph be read; the program never calls them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(entry);
    visit(require.cache[require.resolve(entry)]);
  }
  // Relative to the project, as CallbackFunction's own package paths are, with `/` on every platform.
  return [...files].map((file) => path.posix.join("node_modules", PACKAGE, path.relative(root, file).split(path.sep).join("/"))).sort();
}
