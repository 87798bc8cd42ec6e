import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/runtime.js';

// hack/gpu/: how the CUDA provider is obtained (Dockerfile.runtime, bundle.sh) and shrunk for transfer.

describe('the pinned CUDA provider', () => {
  it('is the onnxruntime-gpu release of the onnxruntime-node version the lockfile installs', () => {
    const pin = readFileSync(join(repoRoot, 'hack/gpu/onnxruntime-gpu.txt'), 'utf8');
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
    const nodeVersion = lock.packages['node_modules/onnxruntime-node']!.version;
    // The provider plugs into onnxruntime's internal provider bridge: any other release can crash at load.
    expect(pin).toMatch(new RegExp(`^onnxruntime-gpu==${nodeVersion.replaceAll('.', '\\.')} --hash=sha256:[0-9a-f]{64}$`, 'm'));
  });
});

/** One fatbin container: a 16-byte header, then per binary a 64-byte header (arch at +28) and payload. */
function container(binaries: { arch: number; payload: Buffer }[]): Buffer {
  const entries = binaries.map(({ arch, payload }) => {
    const header = Buffer.alloc(64);
    header.writeUInt16LE(2, 0); // kind: ELF cubin
    header.writeUInt32LE(64, 4);
    header.writeBigUInt64LE(BigInt(payload.length), 8);
    header.writeUInt32LE(arch, 28);
    return Buffer.concat([header, payload]);
  });
  const body = Buffer.concat(entries);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(0xba55ed50, 0);
  header.writeUInt16LE(1, 4);
  header.writeUInt16LE(16, 6);
  header.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([header, body]);
}

describe('hack/gpu/prune-fatbin.py', () => {
  const payload = (arch: number, module: number): Buffer => Buffer.alloc(32, `sm${arch}-module${module}|`);
  const fatbin = Buffer.concat([
    container([{ arch: 80, payload: payload(80, 1) }, { arch: 90, payload: payload(90, 1) }]),
    Buffer.alloc(8), // the padding real sections carry between containers
    container([{ arch: 90, payload: payload(90, 2) }]),
  ]);

  function prune(...flags: string[]): { output: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), 'fatbin-'));
    writeFileSync(join(dir, 'section.bin'), fatbin);
    // A real ELF shared object around the section, as in libonnxruntime_providers_cuda.so.
    execFileSync('objcopy', ['--add-section', `.nv_fatbin=${join(dir, 'section.bin')}`, '--set-section-flags', '.nv_fatbin=alloc,readonly', process.execPath, join(dir, 'lib.so')]);
    execFileSync('python3', [join(repoRoot, 'hack/gpu/prune-fatbin.py'), ...flags, join(dir, 'lib.so'), join(dir, 'pruned.so')]);
    return { output: readFileSync(join(dir, 'pruned.so')) };
  }

  it('keeps the target architecture, zeroes the others, and leaves every header in place', () => {
    const { output } = prune('--keep-arch', '90');
    expect(output.includes(payload(90, 1))).toBe(true);
    expect(output.includes(payload(90, 2))).toBe(true);
    expect(output.includes(payload(80, 1))).toBe(false);
    expect(output.indexOf(Buffer.from('50ed55ba', 'hex'))).toBeGreaterThan(0);
  });

  it('with --drop-arch-specific also zeroes modules built for the target alone', () => {
    const { output } = prune('--keep-arch', '90', '--drop-arch-specific');
    expect(output.includes(payload(90, 1))).toBe(true);
    expect(output.includes(payload(90, 2))).toBe(false);
  });

  it('refuses a library without CUDA code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fatbin-'));
    expect(() => execFileSync('python3', [join(repoRoot, 'hack/gpu/prune-fatbin.py'), process.execPath, join(dir, 'out')], { stdio: 'pipe' })).toThrow(/no \.nv_fatbin section/);
  });
});
