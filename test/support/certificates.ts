import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A CA and a server certificate for "localhost" / 127.0.0.1 (or `altNames`), made with openssl in `dir`. */
export function makeCertificates(dir: string, altNames = 'DNS:localhost,IP:127.0.0.1'): { ca: string; cert: string; key: string } {
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ferry-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  fs.writeFileSync(f('ext.cnf'), `subjectAltName=${altNames}\n`);
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.crt'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}
