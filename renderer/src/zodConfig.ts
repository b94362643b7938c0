import { z } from 'zod';

// The page's CSP forbids eval: without this, zod probes `new Function` on its first parse, and the
// browser reports a CSP violation even though zod catches the error. Imported before anything parses.
z.config({ jitless: true });
