// Secrets for the desktop app, kept with Electron's safeStorage: each value is encrypted with a key the
// OS keeps (macOS Keychain, Windows DPAPI, the Secret Service or KWallet on Linux) and stored as base64
// in one JSON file in userData, readable by the user only (0600). The names are not secret: they are
// what jobs write as `${secret:NAME}`. Nothing here imports Electron: the safeStorage object and the
// file path are given, so the tests run with a fake.
import fs from 'node:fs';
import path from 'node:path';
import type { SecretStore } from '../app/secrets.js';

/** The part of Electron's `safeStorage` used here. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only (Electron defines it on every platform, but it means something only there). */
  getSelectedStorageBackend?(): string;
}

/**
 * `safeStorage`: encrypted with safeStorage (a real OS key when the keychain is 'os'; on Linux's
 * `basic_text` backend the key is a constant built into Chromium, so that is obfuscation only).
 * `plain`: safeStorage could not encrypt at all; the value is only base64-encoded.
 */
type Stored = { enc: 'safeStorage' | 'plain'; data: string };
interface SecretFile {
  version: 1;
  secrets: Record<string, Stored>;
}

/** Linux backends that do not protect anything with a user's key. */
const WEAK_LINUX_BACKENDS = new Set(['basic_text', 'unknown']);

export class SafeStorageSecretStore implements SecretStore {
  /**
   * 'os' when values are encrypted with a key the operating system guards. 'none' otherwise: the UI
   * warns, and values are still kept so jobs can run, but anyone who can read this user's files (a
   * backup, another program running as the user) can recover them — with `basic_text` the
   * "encryption" key is public, and without safeStorage the file holds base64 of the plain value.
   */
  readonly keychain: 'os' | 'none';
  private readonly secrets = new Map<string, Stored>();
  private readonly canEncrypt: boolean;

  constructor(
    private readonly safeStorage: SafeStorageLike,
    private readonly file: string,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {
    this.canEncrypt = safeStorage.isEncryptionAvailable();
    let strong = this.canEncrypt;
    if (strong && this.platform === 'linux') {
      const backend = typeof safeStorage.getSelectedStorageBackend === 'function' ? safeStorage.getSelectedStorageBackend() : 'unknown';
      strong = !WEAK_LINUX_BACKENDS.has(backend);
    }
    this.keychain = strong ? 'os' : 'none';
    this.load();
  }

  set(name: string, value: string): void {
    const stored: Stored = this.canEncrypt
      ? { enc: 'safeStorage', data: this.safeStorage.encryptString(value).toString('base64') }
      : { enc: 'plain', data: Buffer.from(value, 'utf8').toString('base64') };
    this.secrets.set(name, stored);
    this.save();
  }

  get(name: string): string | undefined {
    const stored = this.secrets.get(name);
    if (!stored) return undefined;
    const bytes = Buffer.from(stored.data, 'base64');
    if (stored.enc === 'plain') return bytes.toString('utf8');
    if (!this.canEncrypt) return undefined;
    try {
      return this.safeStorage.decryptString(bytes);
    } catch {
      // Encrypted under another key (the file was copied from another machine or user, or the
      // keychain entry was reset): the user sets the secret again.
      return undefined;
    }
  }

  names(): string[] {
    return [...this.secrets.keys()].sort();
  }

  private load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`the secrets file ${this.file} is not valid JSON; move it away to start with no secrets`);
    }
    const secrets = (parsed as Partial<SecretFile> | null)?.secrets;
    if (typeof secrets !== 'object' || secrets === null) return;
    for (const [name, stored] of Object.entries(secrets)) {
      if ((stored?.enc === 'safeStorage' || stored?.enc === 'plain') && typeof stored.data === 'string') {
        this.secrets.set(name, { enc: stored.enc, data: stored.data });
      }
    }
  }

  private save(): void {
    const body: SecretFile = { version: 1, secrets: Object.fromEntries(this.secrets) };
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Write then rename, so a crash never leaves half a file; the new file is 0600 from its creation.
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
      fs.chmodSync(tmp, 0o600);
      fs.renameSync(tmp, this.file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }
}
