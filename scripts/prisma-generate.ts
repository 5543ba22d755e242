/**
 * `prisma generate`, offline. Prisma 7's client needs no native engine, but the CLI checks
 * for the schema engine binary before every command and its download fails here; pointing
 * PRISMA_SCHEMA_ENGINE_BINARY at any existing file satisfies the check (generate never runs it).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../lib/config';

const schema = path.join(repoRoot, 'prisma', 'schema.prisma');
const stamp = path.join(repoRoot, 'generated', 'prisma', '.schema-hash');
const hash = require('node:crypto').createHash('sha256').update(fs.readFileSync(schema)).digest('hex') as string;

if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash && !process.argv.includes('--force')) {
  process.exit(0);
}
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1' };
const cli = path.join(repoRoot, 'node_modules', 'prisma', 'build', 'index.js');
const r = spawnSync(process.execPath, [cli, 'generate', '--schema', schema], { env, stdio: 'inherit', cwd: repoRoot });
if (r.status !== 0) process.exit(r.status ?? 1);
fs.writeFileSync(stamp, hash);
