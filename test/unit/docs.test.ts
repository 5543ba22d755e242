/**
 * The documents are checked the way code is, never by their wording: each generated part is
 * what its declaration renders today (`npm run config:docs`), and every relative link in
 * README.md and docs/ points at a file of the repo (and, into a Markdown page, at one of its
 * headings).
 */
import fs from 'node:fs';
import path from 'node:path';
import { GENERATED, partIn } from '../../scripts/config-docs';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Pages other branches of issue 18 write; linked already. Remove a name once its page exists
 * (the last test fails until then, so this list cannot go stale).
 */
const WRITTEN_ELSEWHERE = new Set<string>([]);

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(rel);
    return e.name.endsWith('.md') ? [rel] : [];
  });
}

const PAGES = ['README.md', ...markdownFiles('docs')];

/** The page's text without fenced code blocks (where `#` is no heading and brackets no link). */
const withoutFences = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');
/** ... and without inline code. */
const prose = (text: string) => withoutFences(text).replace(/`[^`\n]*`/g, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of withoutFences(fs.readFileSync(path.join(ROOT, file), 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(heading!.trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Every relative link of a page: [text](target) and ![alt](target), without http(s) and mail. */
function relativeLinks(file: string): string[] {
  const text = prose(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  return [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/i.test(target));
}

/** What is wrong with one link, or undefined. */
function brokenLink(from: string, target: string): string | undefined {
  const [file, anchor] = target.split('#') as [string, string | undefined];
  const resolved = file === '' ? from : path.posix.normalize(path.posix.join(path.posix.dirname(from), file));
  if (WRITTEN_ELSEWHERE.has(resolved)) return undefined;
  if (!fs.existsSync(path.join(ROOT, resolved))) return `${resolved} does not exist`;
  if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) return `${resolved} has no heading #${anchor}`;
  return undefined;
}

describe('generated documents', () => {
  test.each(GENERATED.map((part) => [part.file, part.name, part]))('%s: "%s" is what its declaration renders', (_file, _name, part) => {
    expect(partIn(fs.readFileSync(path.join(ROOT, part.file), 'utf8'), part)).toBe(part.render());
  });
});

describe('links', () => {
  test('README.md links every page of docs/', () => {
    const linked = new Set(relativeLinks('README.md').map((t) => path.posix.normalize(t.split('#')[0]!)));
    const unlinked = markdownFiles('docs').filter((page) => !linked.has(page) && !page.startsWith('docs/adr/0'));
    expect(unlinked).toEqual([]);
  });

  test.each(PAGES)('every relative link in %s resolves to a file (and heading) of the repo', (page) => {
    const broken = relativeLinks(page).flatMap((target) => {
      const why = brokenLink(page, target);
      return why ? [`${target}: ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  test('a page written elsewhere is dropped from WRITTEN_ELSEWHERE once it exists', () => {
    expect([...WRITTEN_ELSEWHERE].filter((page) => fs.existsSync(path.join(ROOT, page)))).toEqual([]);
  });

  test('the link check can fail: a missing file and a missing heading are reported', () => {
    expect(brokenLink('docs/api.md', 'no-such-page.md')).toBe('docs/no-such-page.md does not exist');
    expect(brokenLink('docs/api.md', 'events.md#no-such-heading')).toBe('docs/events.md has no heading #no-such-heading');
    expect(brokenLink('docs/api.md', 'events.md#dead-letters')).toBeUndefined();
  });
});
