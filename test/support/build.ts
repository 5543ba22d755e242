/**
 * What the production build (`npm run build`: tsconfig.build.json, then the workflow bundles)
 * emits, for the static tests of the image, deploy/ and docker-compose.yml: a command runs
 * compiled JavaScript only if the build compiles its source.
 */
import path from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../lib/config';

export const BUILD_TSCONFIG = path.join(repoRoot, 'tsconfig.build.json');

/** The build's options and root files, as tsc reads tsconfig.build.json. */
export function buildConfig(): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    BUILD_TSCONFIG,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${BUILD_TSCONFIG}`);
  return parsed;
}

/** The source file (relative to the repository) of a compiled file such as `dist/app/main.js`, if the build compiles one. */
export function sourceOfCompiled(file: string): string | undefined {
  const { options, fileNames } = buildConfig();
  const outDir = path.relative(repoRoot, options.outDir!);
  const rootDir = path.relative(repoRoot, options.rootDir!);
  if (!file.startsWith(`${outDir}/`) || !file.endsWith('.js')) return undefined;
  const source = path.join(rootDir, file.slice(outDir.length + 1).replace(/\.js$/, '.ts'));
  return fileNames.map((f) => path.relative(repoRoot, f)).includes(source) ? source : undefined;
}

/** A container command `node <compiled file> ...args`: the source it runs, or why it is not one. */
export function compiledCommand(command: readonly string[]): { source?: string; args: string[]; problem?: string } {
  const [bin, file, ...args] = command;
  if (bin !== 'node' || !file) return { args, problem: `not \`node <file>\`: ${command.join(' ')}` };
  const source = sourceOfCompiled(file);
  return source ? { source, args } : { args, problem: `${file} is not a file the build (tsconfig.build.json) emits` };
}
