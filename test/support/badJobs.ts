// Job files that must be refused. Shared by the unit tests of the loader and the CLI
// tests (which expect `ferry` to exit with code 2 and print the same messages).

export interface BadJob {
  title: string;
  yaml: string;
  /** Extra environment variables for this case. */
  env?: Record<string, string>;
  /** Substrings the error message must contain; the first names the path. */
  expect: string[];
  /** Substrings the error message must never contain (passwords). */
  mustNotContain?: string[];
}

/** A variable no test environment sets. */
export const UNSET_ENV_VAR = 'FERRY_TEST_SURELY_UNSET_PASS';

const target = 'target: { url: "redis://127.0.0.1:6390" }';
const source = 'sources:\n  - { name: a, url: "redis://127.0.0.1:6380" }';

/** A valid job with `extra` appended (e.g. an options block). */
const job = (extra = '') => `name: t\n${source}\n${target}\n${extra}`;

export const badJobs: BadJob[] = [
  {
    title: 'not YAML (and the broken line holds a password)',
    yaml: 'name: t\ntarget: { url: "redis://:hunter2-yaml@h:6379"\nsources: []\n',
    expect: ['job file', 'line 3, column'],
    mustNotContain: ['hunter2-yaml'],
  },
  {
    title: 'duplicate YAML key',
    yaml: `name: t\nname: u\n${source}\n${target}\n`,
    expect: ['line 2, column 1', 'unique'],
  },
  { title: 'empty file', yaml: '', expect: ['the file is empty'] },
  { title: 'only comments', yaml: '# nothing yet\n', expect: ['the file is empty'] },
  {
    title: 'a list instead of a mapping',
    yaml: '- name: t\n- sources: []\n',
    expect: ['expected a mapping', 'top level', 'got a list'],
  },
  {
    title: 'missing name',
    yaml: `${source}\n${target}\n`,
    expect: ['name: required field is missing'],
  },
  {
    title: 'name with characters unfit for a directory',
    yaml: `name: "idc exit/2019"\n${source}\n${target}\n`,
    expect: ['name: the job name may contain only letters', '"idc exit/2019"'],
  },
  {
    title: 'missing sources',
    yaml: `name: t\n${target}\n`,
    expect: ['sources: required field is missing'],
  },
  {
    title: 'empty sources',
    yaml: `name: t\nsources: []\n${target}\n`,
    expect: ['sources: at least one source is needed'],
  },
  {
    title: 'missing target',
    yaml: `name: t\n${source}\n`,
    expect: ['target: required field is missing'],
  },
  {
    title: 'source with both url and rdb',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://h:6379", rdb: ./dump.rdb }\n${target}\n`,
    expect: ['sources[0]: give either url or rdb, not both'],
  },
  {
    title: 'source with neither url nor rdb',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://h:6379" }\n  - { name: b }\n${target}\n`,
    expect: ['sources[1]: give either url'],
  },
  {
    title: 'duplicate source names',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://h:6379" }\n  - { name: b, rdb: x.rdb }\n  - { name: a, rdb: y.rdb }\n${target}\n`,
    expect: ['sources[2].name: duplicate source name "a"'],
  },
  {
    title: 'source name with a slash',
    yaml: `name: t\nsources:\n  - { name: "../a", url: "redis://h:6379" }\n${target}\n`,
    expect: ['sources[0].name: a source name may contain only'],
  },
  {
    title: 'http:// url',
    yaml: `name: t\nsources:\n  - { name: a, url: "http://x" }\n${target}\n`,
    expect: ['sources[0].url: expected redis://', 'got "http://x"'],
  },
  {
    title: 'url with a port out of range (and a password)',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://ops:s3cretPW@10.0.0.1:70000" }\n${target}\n`,
    expect: ['sources[0].url: port must be a whole number from 1 to 65535', '"70000"', 'ops:***@'],
    mustNotContain: ['s3cretPW'],
  },
  {
    title: 'url with a non-numeric port',
    yaml: `name: t\n${source}\ntarget: { url: "redis://h:abc" }\n`,
    expect: ['target.url: port must be', '"abc"'],
  },
  {
    title: 'url with a non-integer db path',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://h:6379/first" }\n${target}\n`,
    expect: ['sources[0].url: the path must be empty or /<db number>'],
  },
  {
    title: 'password with an unencoded # makes the url unparsable',
    yaml: `name: t\n${source}\ntarget: { url: "redis://:pa#ss-word@h:6379" }\n`,
    expect: ['target.url: expected redis://', ':***@h:6379'],
    mustNotContain: ['pa#ss', 'ss-word'],
  },
  {
    title: 'password from the environment in a bad url',
    yaml: `name: t\n${source}\ntarget: { url: "http://app:\${env:FERRY_TEST_TGT_PASS}@h:6379" }\n`,
    env: { FERRY_TEST_TGT_PASS: 'env-Secret-9' },
    expect: ['target.url: expected redis://', 'app:***@h'],
    mustNotContain: ['env-Secret-9'],
  },
  {
    title: 'password from the environment in the username slot of a bad url',
    yaml: `name: t\n${source}\ntarget: { url: "redis://\${env:FERRY_TEST_TGT_PASS}@h:99999" }\n`,
    env: { FERRY_TEST_TGT_PASS: 'env-Secret-9' },
    expect: ['target.url: port must be'],
    mustNotContain: ['env-Secret-9'],
  },
  {
    title: 'unknown URL option',
    yaml: `name: t\n${source}\ntarget: { url: "rediss://h:6379?timeout=5" }\n`,
    expect: ['target.url: unknown URL option "timeout"'],
  },
  {
    title: 'unknown top-level field',
    yaml: job('colour: blue\n'),
    expect: ['colour: unknown field "colour"', 'allowed: name, tunnels, sources, target, options'],
  },
  {
    title: 'unknown option field',
    yaml: job('options: { onconflict: skip }\n'),
    expect: ['options.onconflict: unknown field "onconflict"', 'onConflict'],
  },
  {
    title: 'bad onConflict',
    yaml: job('options: { onConflict: merge }\n'),
    expect: ['options.onConflict: expected one of fail, skip, replace, got "merge"'],
  },
  {
    title: 'dbs with a non-integer key',
    yaml: job('options:\n  dbs: { x: 0 }\n'),
    expect: ['options.dbs."x": source db must be a whole number'],
  },
  {
    title: 'negative target db',
    yaml: job('options:\n  dbs: { "1": -1 }\n'),
    expect: ['options.dbs."1": must be at least 0'],
  },
  {
    title: 'bad type in types',
    yaml: job('options: { types: [string, strings] }\n'),
    expect: ['options.types[1]: expected one of string, list, set, zset, hash, stream, got "strings"'],
  },
  {
    title: 'negative ttl.extendMs',
    yaml: job('options:\n  ttl: { extendMs: -5 }\n'),
    expect: ['options.ttl.extendMs: must be at least 0'],
  },
  {
    title: 'bigKey.bytes is not a size',
    yaml: job('options:\n  bigKey: { bytes: 8 potatoes }\n'),
    expect: ['options.bigKey.bytes: expected a size', '"8 potatoes"'],
  },
  {
    title: 'latencyBudgetMs 0',
    yaml: job('options: { latencyBudgetMs: 0 }\n'),
    expect: ['options.latencyBudgetMs: must be greater than 0'],
  },
  {
    title: 'latencyBudgetMs as text',
    yaml: job('options: { latencyBudgetMs: fast }\n'),
    expect: ['options.latencyBudgetMs: expected a number, got a string'],
  },
  {
    title: 'parallel 0',
    yaml: job('options: { parallel: 0 }\n'),
    expect: ['options.parallel: must be at least 1'],
  },
  {
    title: 'parallel with an unknown field',
    yaml: job('options: { parallel: { sources: 2, writers: 3 } }\n'),
    expect: ['options.parallel.writers: unknown field "writers" (allowed: sources, staging)'],
  },
  {
    title: 'via naming an unknown tunnel',
    yaml: `name: t\ntunnels:\n  aws: { host: bastion.example }\nsources:\n  - { name: a, url: "redis://h:6379", via: idc }\n${target}\n`,
    expect: ['sources[0].via: unknown tunnel "idc"', 'known tunnels: aws'],
  },
  {
    title: 'target via without any tunnels',
    yaml: `name: t\n${source}\ntarget: { url: "redis://h:6379", via: aws }\n`,
    expect: ['target.via: unknown tunnel "aws"', 'no tunnels are defined'],
  },
  {
    title: 'rdb source through a tunnel',
    yaml: `name: t\ntunnels:\n  idc: { host: b }\nsources:\n  - { name: a, rdb: ./dump.rdb, via: idc }\n${target}\n`,
    expect: ['sources[0].via: an rdb source is a local file'],
  },
  {
    title: 'tunnel jump loop',
    yaml: `name: t\ntunnels:\n  a: { host: a, jump: b }\n  b: { host: b, jump: a }\n${source}\n${target}\n`,
    expect: ['tunnels.a.jump: jump chain loops: a -> b -> a'],
  },
  {
    title: 'nested unknown field in tunnels',
    yaml: `name: t\ntunnels:\n  idc: { host: bastion.example, hostname: other }\n${source}\n${target}\n`,
    expect: ['tunnels.idc.hostname: unknown field "hostname"', 'allowed: host, port, user'],
  },
  {
    title: 'tunnel port out of range',
    yaml: `name: t\ntunnels:\n  idc: { host: bastion.example, port: 70000 }\n${source}\n${target}\n`,
    expect: ['tunnels.idc.port: must be at most 65535'],
  },
  {
    title: 'missing ${env:VAR}',
    yaml: `name: t\n${source}\ntarget: { url: "rediss://app:\${env:${UNSET_ENV_VAR}}@h:6379" }\n`,
    expect: [
      `target.url: environment variable ${UNSET_ENV_VAR} is not set (referenced as \${env:${UNSET_ENV_VAR}}); export it before running Ferry`,
    ],
  },
  {
    title: '${secret:X} on the command line',
    yaml: `name: t\n${source}\ntarget: { url: "rediss://app:\${secret:TGT_PASS}@h:6379" }\n`,
    expect: ['target.url: secret TGT_PASS is not available here', 'use ${env:TGT_PASS} instead'],
  },
  {
    title: 'unsupported ${...} form',
    yaml: `name: t\nsources:\n  - { name: a, url: "redis://:\${TGT_PASS}@h:6379" }\n${target}\n`,
    expect: ['sources[0].url: unsupported reference ${TGT_PASS}'],
  },
  {
    title: 'unterminated ${',
    yaml: `name: t\n${source}\n${target}\noptions: { include: ["\${env:X"] }\n`,
    expect: ['options.include[0]: "${" without a closing "}"'],
  },
  {
    title: 'several problems are all reported',
    yaml: `name: t\nsources:\n  - { name: a, url: "http://x" }\n${target}\noptions: { onConflict: merge, parallel: 0 }\n`,
    expect: ['3 problems', 'sources[0].url', 'options.onConflict', 'options.parallel'],
  },
];
