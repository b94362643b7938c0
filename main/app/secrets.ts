/**
 * Where the host keeps the secrets that jobs name as `${secret:NAME}`. Values go in and are read by
 * the host only; the UI sees names, never values.
 */
export interface SecretStore {
  /** `os`: kept in the OS keychain (Electron safeStorage); `none`: in memory, gone when the host stops. */
  readonly keychain: 'os' | 'none';
  set(name: string, value: string): void;
  get(name: string): string | undefined;
  names(): string[];
}

/** Secrets in memory only: `ferry serve` and tests. */
export class MemorySecretStore implements SecretStore {
  readonly keychain = 'none' as const;
  private readonly values = new Map<string, string>();

  set(name: string, value: string): void {
    this.values.set(name, value);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  names(): string[] {
    return [...this.values.keys()].sort();
  }
}
