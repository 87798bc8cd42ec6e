import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { readCaFile, readHeadersDir } from './fetch-inputs.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'fetch-inputs-'));

/** A directory laid out as the kubelet mounts a Secret: keys are links into a `..data` folder it swaps atomically. */
function secretVolume(data: Record<string, string>): string {
  const dir = scratch();
  const version = join(dir, '..2026_01_01_00_00_00.000000000');
  mkdirSync(version);
  for (const [key, value] of Object.entries(data)) writeFileSync(join(version, key), value);
  symlinkSync(version, join(dir, '..data'));
  for (const key of Object.keys(data)) symlinkSync(join('..data', key), join(dir, key));
  return dir;
}

describe('readHeadersDir', () => {
  it("reads one header per key of a mounted Secret, skipping the kubelet's own entries", () => {
    const dir = secretVolume({ Authorization: 'Bearer t0ken\n', 'X-Api-Key': 'k3y' });
    expect(readHeadersDir(dir)).toEqual({ Authorization: 'Bearer t0ken', 'X-Api-Key': 'k3y' });
  });

  it('refuses a key that is no header name, naming it', () => {
    expect(() => readHeadersDir(secretVolume({ 'bad header': 'x' }))).toThrow('"bad header" is not a valid HTTP header name');
  });

  it('refuses a value with a line break inside without printing the value', () => {
    const error = (() => {
      try {
        readHeadersDir(secretVolume({ Authorization: 'Bearer s3cr3t\r\nX-Injected: 1' }));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('the value of header "Authorization"');
    expect(error?.message).not.toContain('s3cr3t');
  });

  it('says when the directory is missing', () => {
    expect(() => readHeadersDir(join(scratch(), 'absent'))).toThrow(/--headers-dir .*absent: ENOENT/);
  });
});

describe('readCaFile', () => {
  it('trusts the default CAs and every certificate in the file', () => {
    const dir = scratch();
    const pem = (name: string) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`)], { stdio: 'ignore' });
      return readFileSync(join(dir, `${name}.pem`), 'utf8').trim();
    };
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, `# two private CAs\n${pem('ca-one')}\n${pem('ca-two')}\n`);
    const ca = readCaFile(bundle);
    expect(ca).toHaveLength(getCACertificates('default').length + 2);
    expect(ca.at(-1)).toBe(readFileSync(join(dir, 'ca-two.pem'), 'utf8').trim());
  });

  it.each([
    ['holds no certificate', 'not a certificate\n', 'no PEM certificate'],
    ['holds a broken certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'certificate 1 is not valid'],
  ])('refuses a file that %s', (_case, content, message) => {
    const file = join(scratch(), 'ca.crt');
    writeFileSync(file, content);
    expect(() => readCaFile(file)).toThrow(message);
  });
});
