// The configuration: one zod schema from the environment variables to `Config`. Each variable has its
// own schema and description, the production rules are part of the schema, and the table in
// docs/configuration.md is rendered from it (src/config/docs.ts, `npm run docs:config`).
// loadConfig(env) is the only place that reads the environment; it reports every problem at once.
import { isIP } from 'node:net';
import { z } from 'zod';
import { findWeakness } from './key-strength.ts';
import { ConfigError } from '../errors.ts';
import { DEFAULT_CHAINS } from './chains.ts';
import { buttonText, MIN_CONTRAST } from './contrast.ts';

// What the docs table reads from a variable's `.meta()` besides its description.
declare module 'zod' {
  interface GlobalMeta {
    /** What leaving a variable without a default unset means. */
    unset?: string;
    /** Valid values worth showing (each must parse: a test checks). */
    examples?: string[];
    /** The unit of a number, for the docs (`seconds` also shows long values in days). */
    unit?: 'seconds';
  }
}

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A duration in whole seconds. */
const secondsIn = (min: number, max: number) => intIn(min, max).meta({ unit: 'seconds' });

/** A per-minute rate limit; `0` turns it off. */
const perMinute = (fallback: number) => intIn(0, 1_000_000).default(fallback);
const RATE_LIMIT_NOTE =
  'More are refused with 429 `rate_limited` and `Retry-After`. Counted in the database, so every instance shares the count. `0` turns the limit off.';

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
  .refine((v) => !/[?#]/.test(v), 'must not have a query or fragment')
  .refine((v) => !URL.canParse(v) || ['/', ''].includes(new URL(v).pathname), 'must not have a path (wallet-oidc serves its endpoints at the root)')
  .transform((v) => new URL(v.replace(/\/+$/, '')));

/** A comma-separated list: items trimmed, empty items dropped, at least one left. */
const list = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, 'must list at least one value'));

/** A 32-byte AES key as 64 hex characters (ENCRYPTION_KEY and each of ENCRYPTION_KEY_PREVIOUS). */
const encryptionKey = (message: string) =>
  z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, message)
    .transform((v): Buffer => Buffer.from(v, 'hex'));

/** Every variable, in the order the docs list them. Empty strings count as unset (see configSchema). */
const variables = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], 'must be development, production or test')
    .default('development')
    .meta({ description: '`production` enforces the production rules (the variables marked for production); `development` and `test` behave alike.' }),
  PORT: intIn(0, 65535).default(3000).meta({ description: 'TCP port to listen on.' }),
  HOST: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Address to listen on.', unset: 'all interfaces', examples: ['127.0.0.1'] }),
  ISSUER: httpUrl.optional().meta({
    description:
      'Public origin of the provider: http(s), no path, query or fragment (a trailing `/` is dropped). ' +
      'Endpoint URLs always derive from it, never from Host headers. Also sets the SIWE `domain` (host and port) and `uri`.',
    unset: '`http://localhost:$PORT`',
    examples: ['https://id.example.com'],
  }),
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2})$/, 'must be true, false or the number of proxies in front (0-10)')
    .transform((v) => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v)))
    .pipe(z.number().max(10, 'must be at most 10 proxies'))
    .default(0)
    .meta({
      description:
        'The reverse proxies in front of wallet-oidc that add to `X-Forwarded-For`: `false` (or `0`) when clients connect directly, `true` (or `1`) for one, or their number. ' +
        'The client IP (rate limits, `login_events`) is the entry that many hops from the end of `X-Forwarded-For`, so entries a client wrote itself are never used; ' +
        'with any proxy the request counts as https when `ISSUER` is https. Host headers are never trusted: endpoint URLs always derive from `ISSUER`.',
      examples: ['true', '2'],
    }),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .meta({
      description:
        'Postgres connection URL. When set, Postgres is used; when unset, the embedded PGlite database in `DATA_DIR` (single-process, for development).',
      unset: 'PGlite',
      examples: ['postgres://wallet@db.internal:5432/wallet'],
    }),
  DATABASE_POOL_MAX: intIn(1, 1000).default(10).meta({ description: 'Postgres connection pool size per process. Ignored without `DATABASE_URL`.' }),
  DATABASE_TIMEOUT: secondsIn(1, 300)
    .default(5)
    .meta({
      description:
        'Seconds a request waits on Postgres before it answers 503 `temporarily_unavailable` / `database_unavailable` with `Retry-After`: ' +
        'to connect, to get a pooled connection, and for each statement (migrations and sweeps included). Ignored without `DATABASE_URL`.',
    }),
  DATA_DIR: z.string().min(1).default('./data').meta({
    description:
      'PGlite directory, created if missing: the database is in `DATA_DIR/pglite`, the lock and the admin socket in `DATA_DIR/admin` (one process at a time; the CLI runs through a running server). Ignored with `DATABASE_URL`.',
  }),
  COOKIE_KEYS: list(z.string().min(32, 'each key must be at least 32 characters'))
    .optional()
    .meta({
      description:
        'Comma-separated cookie-signing keys, newest first, each at least 32 characters (`openssl rand -hex 32` makes one). ' +
        'New cookies are signed with the first key; cookies signed with any listed key are accepted. Every instance must have the same list.',
      unset: 'generated and stored in the database (development)',
    }),
  ENCRYPTION_KEY: encryptionKey('must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`')
    .optional()
    .meta({
      description:
        '64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`: the AES-256-GCM key that seals client secrets and private signing keys in the database. ' +
        'Losing it loses them: set it before the first start of any database you intend to keep. ' +
        'To change it, move the old key to `ENCRYPTION_KEY_PREVIOUS` and run `wallet-oidc secrets reseal` (docs/operations.md, "Rotating ENCRYPTION_KEY").',
      unset: 'generated and stored in the database (development)',
    }),
  ENCRYPTION_KEY_PREVIOUS: list(encryptionKey('each key must be 64 hex characters (32 bytes)'))
    .optional()
    .meta({
      description:
        'Comma-separated earlier `ENCRYPTION_KEY`s (each 64 hex characters), accepted only to open values sealed under them while `ENCRYPTION_KEY` is rotated; ' +
        'everything is sealed under `ENCRYPTION_KEY`. Remove them once `wallet-oidc secrets status` shows nothing sealed under them. ' +
        'The key a development database generated for itself is accepted without being listed here.',
      unset: 'none',
    }),
  ALLOWED_CHAINS: list(
    z
      .string()
      .regex(/^[1-9]\d*$/, 'each chain id must be a positive whole number')
      .transform(Number)
      .refine(Number.isSafeInteger, `each chain id must be at most ${Number.MAX_SAFE_INTEGER}`),
  )
    .default(() => Object.keys(DEFAULT_CHAINS).map(Number))
    .meta({
      description:
        `Comma-separated EIP-155 chain ids a wallet may sign in from. The defaults are ${Object.values(DEFAULT_CHAINS)
          .join(', ')
          .replace(/, ([^,]*)$/, ' and $1')} (\`src/config/chains.ts\`). ` + 'Other ids show as `chain <id>` on the page.',
      examples: ['1,8453'],
    }),
  SUB_FORMAT: z
    .enum(['address', 'caip10'], 'must be address or caip10')
    .default('address')
    .meta({
      description:
        'The form of `sub`: `address` is the checksummed address, the same on every chain; ' +
        '`caip10` is `eip155:<chainId>:<address>`, for users migrating from siwe-oidc.',
    }),
  RPC_URLS: list(
    z
      .string()
      .regex(/^[1-9]\d*=\S+$/, 'each entry must be <chainId>=<url>, e.g. 1=https://eth.example/v2/KEY')
      .transform((entry) => {
        const at = entry.indexOf('=');
        return { chainId: Number(entry.slice(0, at)), url: entry.slice(at + 1) };
      })
      .refine((e) => Number.isSafeInteger(e.chainId), `each chain id must be at most ${Number.MAX_SAFE_INTEGER}`)
      .refine((e) => URL.canParse(e.url) && /^https?:$/.test(new URL(e.url).protocol), 'each URL must be an absolute http(s) URL')
      .transform((e) => ({ chainId: e.chainId, url: new URL(e.url) })),
  )
    .refine((entries) => new Set(entries.map((e) => e.chainId)).size === entries.length, 'names a chain id twice')
    .optional()
    .meta({
      description:
        "Comma-separated `<chainId>=<url>` JSON-RPC endpoints, one per chain, asked for what a wallet's own key cannot prove: " +
        "a contract wallet's signature (EIP-1271, EIP-6492) on that chain, and ENS names on `ENS_CHAIN`. " +
        'Wallets that sign with their own key (EOAs) never need one. On a chain without one, a contract wallet is refused with `contract_wallet_unsupported`. ' +
        'Each chain must be in `ALLOWED_CHAINS` or be `ENS_CHAIN`; at its first use each endpoint must answer `eth_chainId` with its chain id. ' +
        'URLs often carry an API key: they are never logged.',
      unset: 'EOAs only, no ENS names',
      examples: ['1=https://eth.example/v2/KEY,8453=https://base.example'],
    }),
  RPC_TIMEOUT_MS: intIn(100, 60_000)
    .default(4000)
    .meta({
      description:
        "Milliseconds a contract wallet's signature check may take over its chain's RPC, every call included (at most 3 calls). " +
        'Past it the login answers 503 `verifier_unavailable` and the same signed message can be sent again. ' +
        'It also bounds each background resolution of an ENS name, every call included (logins never wait for those).',
    }),
  ENS_CHAIN: z
    .union([
      z.literal('off'),
      z
        .string()
        .regex(/^[1-9]\d*$/, 'must be a chain id or off')
        .transform(Number),
    ])
    .default(1)
    .meta({
      description:
        'The chain whose ENS registry gives names (`name`, `nickname`) and avatars (`picture`): `1` (Ethereum) by default, or `off`. ' +
        'It needs an `RPC_URLS` entry; without one no names are shown.',
    }),
  ENS_REGISTRY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address')
    .default('0x00000000000C2E074eC69A0dFb2997BA6C7d2e1e')
    .meta({ description: 'The ENS registry on `ENS_CHAIN`. The default is the registry of Ethereum and its test networks.' }),
  ENS_CACHE_TTL: secondsIn(60, 30 * 86400)
    .default(3600)
    .meta({
      description:
        'Seconds a resolved name (or the answer "no name") is served before it is resolved again in the background; until then the last answer stays. ' +
        'Names are never resolved on the login path.',
    }),
  ENS_RETRY_INTERVAL: secondsIn(10, 86400)
    .default(300)
    .meta({ description: 'Seconds before a name whose resolution failed (the RPC down or slow) is tried again; the last answer known stays meanwhile.' }),
  CHALLENGE_TTL: secondsIn(30, 3600).default(300).meta({ description: 'Seconds a sign-in challenge (the EIP-4361 message to sign) stays valid.' }),
  HANDOFF_TTL: secondsIn(30, 3600)
    .default(300)
    .meta({
      description:
        'Seconds the link a login page shows for signing on another device (its QR code) can be opened: the first device that asks for a message to sign claims it. ' +
        'Once claimed, the login has the rest of `INTERACTION_TTL` to finish. Must be shorter than `INTERACTION_TTL`.',
    }),
  SESSION_TTL: secondsIn(60, 365 * 86400)
    .default(14 * 86400)
    .meta({
      description:
        'Seconds of the signed-in session (`_session` cookie). ' +
        'Grants (the consent records that tokens hang on) last the longer of `SESSION_TTL` and `REFRESH_TOKEN_TTL`.',
    }),
  INTERACTION_TTL: secondsIn(60, 86400)
    .default(3600)
    .meta({ description: 'Seconds a login interaction lasts. It should outlive the challenge (`CHALLENGE_TTL`).' }),
  ACCESS_TOKEN_TTL: secondsIn(60, 86400).default(3600).meta({ description: 'Access token lifetime in seconds.' }),
  ID_TOKEN_TTL: secondsIn(60, 86400).default(3600).meta({ description: 'ID token lifetime in seconds.' }),
  AUTHORIZATION_CODE_TTL: secondsIn(10, 600).default(60).meta({ description: 'Authorization code lifetime in seconds.' }),
  REFRESH_TOKEN_TTL: secondsIn(60, 365 * 86400)
    .default(30 * 86400)
    .meta({ description: 'Refresh token lifetime in seconds.' }),
  DEVICE_CODE_TTL: secondsIn(60, 3600)
    .default(600)
    .meta({
      description:
        'Seconds a device code and its user code stay valid (the device authorization grant, RFC 8628): the time a person has to open the verification page, ' +
        'type the code and sign in. The device then gets `expired_token`.',
    }),
  DEVICE_POLL_INTERVAL: secondsIn(1, 60)
    .default(5)
    .meta({
      description:
        'Seconds a device must wait between two token requests for one device code, advertised as `interval` (RFC 8628 §3.2). ' +
        'A device code polled sooner is answered 400 `slow_down` (§3.5).',
    }),
  OUTBOUND_PRIVATE_HOSTS: list(
    z
      .string()
      .refine(
        (h) => isIP(h.replace(/^\[|\]$/g, '')) === 6 || /^[^\s/?#@:[\]]+$/.test(h),
        'each entry must be a host name or IP address, without scheme, port or path',
      ),
  )
    .optional()
    .meta({
      description:
        "Comma-separated host names or IP addresses, without scheme, port or path, that oidc-provider may reach (a client's `jwks_uri`, back-channel logout) " +
        'even on loopback, private or other special-use addresses. An entry matches the URL host exactly (case-insensitive, IPv6 with or without brackets; no wildcards), ' +
        'whatever address it resolves to, so list only names whose DNS you control.',
      unset: 'none',
      examples: ['keycloak.internal,10.0.4.17'],
    }),
  CLIENT_CACHE_TTL: secondsIn(0, 3600)
    .default(10)
    .meta({
      description:
        'Seconds a server keeps a client it looked up in memory (`0`: always read the database). ' +
        'A client changed or removed by the CLI is forgotten at once on every instance (the change feed, docs/operations.md); ' +
        'this bounds how long a lost announcement can leave a stale client.',
    }),
  CHANGE_POLL_INTERVAL: secondsIn(1, 3600)
    .default(5)
    .meta({
      description:
        'Postgres only: seconds between reads of the `config_changes` table, the safety net under LISTEN/NOTIFY for CLI changes ' +
        '(clients, accounts, keys) whose notification this instance missed (its LISTEN connection was down). A missed change arrives within this time.',
    }),
  KEY_ACTIVATION_DELAY: secondsIn(1, 90 * 86400)
    .default(86400)
    .meta({
      description:
        'Seconds between `keys rotate`, which publishes the next signing keys in the JWKS at once, and the moment they start signing ' +
        '(`keys activate` starts them earlier). Long enough for every RP and broker that caches the JWKS to have fetched it again.',
    }),
  JWKS_MAX_AGE: secondsIn(0, 86400)
    .default(3600)
    .meta({
      description:
        'The `max-age` of `/jwks` responses (`Cache-Control: public`): how long an RP may keep the key set. ' +
        'It must stay shorter than `KEY_ACTIVATION_DELAY`, so an RP that honours it sees a pending key before that key signs.',
    }),
  SWEEP_INTERVAL: secondsIn(0, 86400).default(600).meta({
    description:
      "Seconds between the server's sweeps of expired rows and of login events older than `LOGIN_EVENT_RETENTION_DAYS`. `0` turns off the periodic sweep (the CLI's `sweep` command still runs one).",
  }),
  SHUTDOWN_TIMEOUT: secondsIn(1, 3600)
    .default(25)
    .meta({
      description:
        'Seconds from `SIGTERM` (or `SIGINT`) to a forced exit with code 1, `SHUTDOWN_DELAY` included: requests still in flight then are cut. ' +
        "Keep it under the orchestrator's grace period (Kubernetes: `terminationGracePeriodSeconds`, 30 by default, minus any `preStop` sleep).",
    }),
  SHUTDOWN_DELAY: secondsIn(0, 300)
    .default(0)
    .meta({
      description:
        'Seconds the server keeps accepting requests after `SIGTERM`, answering `/readyz` with 503 `shutting_down`, before it closes its listener: ' +
        'time for a load balancer polling `/readyz` to stop sending it requests. `0` closes it at once (a load balancer must then retry refused connections elsewhere). ' +
        'Must be less than `SHUTDOWN_TIMEOUT`.',
    }),
  LOGIN_RATE_LIMIT: perMinute(600).meta({
    description:
      "Requests per minute from one client IP to the login API (`/interaction/<uid>/challenge`, `/verify` and `POST /handoff`, and a phone's `/handoff/<secret>/challenge` and `/verify`; a sign-in needs two or three). " +
      RATE_LIMIT_NOTE,
  }),
  VERIFY_ADDRESS_RATE_LIMIT: perMinute(30).meta({
    description:
      'Requests per minute to `/interaction/<uid>/verify` signed for one address, from any number of client IPs (a sign-in needs one). ' +
      'Counted before any signature work. ' +
      RATE_LIMIT_NOTE,
  }),
  HANDOFF_STATUS_RATE_LIMIT: perMinute(1800).meta({
    description:
      'Requests per minute from one client IP to `GET /interaction/<uid>/handoff`, which a login page waiting for a phone asks every 2 seconds (30 a minute). ' +
      RATE_LIMIT_NOTE,
  }),
  AUTHORIZATION_RATE_LIMIT: perMinute(600).meta({
    description: 'Requests per minute from one client IP to the authorization endpoint `/auth` (each starts a login). ' + RATE_LIMIT_NOTE,
  }),
  TOKEN_RATE_LIMIT: perMinute(6000).meta({
    description:
      'Requests per minute from one client IP to each of `/token`, `/token/introspection` and `/token/revocation` (counted apart). ' +
      "A broker or an API redeems, refreshes and introspects from few addresses: size it for the busiest one's peak. " +
      RATE_LIMIT_NOTE,
  }),
  END_SESSION_RATE_LIMIT: perMinute(300).meta({
    description: 'Requests per minute from one client IP to the logout endpoints `/session/end` and `/session/end/confirm` (together). ' + RATE_LIMIT_NOTE,
  }),
  DEVICE_AUTHORIZATION_RATE_LIMIT: perMinute(60).meta({
    description:
      'Requests per minute from one client IP to the device authorization endpoint `/device/auth` (each issues a device code and a user code). ' +
      RATE_LIMIT_NOTE,
  }),
  USER_CODE_RATE_LIMIT: perMinute(20).meta({
    description:
      'Requests per minute from one client IP to the verification page `/device`, GET, HEAD and POST together (opening it, sending a user code, then Continue or Abort: three a sign-in). ' +
      'It bounds guessing user codes (RFC 8628 §5.1). ' +
      RATE_LIMIT_NOTE,
  }),
  CLIENT_AUTH_FAILURE_LIMIT: perMinute(10).meta({
    description:
      'Failed client authentications (401 `invalid_client`) per minute for one client id at `/token`, `/token/introspection` and `/token/revocation`. ' +
      'Once one more has failed, every request for that client id, even with the right secret, is refused with 429 `rate_limited` and `Retry-After` until the minute ends. `0` turns it off.',
  }),
  CLIENT_LOCKOUT_LIMIT: intIn(0, 1_000_000)
    .default(50)
    .meta({
      description:
        'Failed client authentications per hour for one client id before that client id is locked out for `CLIENT_LOCKOUT` seconds: ' +
        'every request for it is refused with 429 `rate_limited`, even with the right secret. `0` turns the lockout off.',
    }),
  CLIENT_LOCKOUT: secondsIn(1, 86400).default(900).meta({ description: 'Seconds a client id stays locked out once over `CLIENT_LOCKOUT_LIMIT`.' }),
  LOGIN_EVENT_RETENTION_DAYS: intIn(1, 3650).default(90).meta({ description: 'Days `login_events` rows are kept before a sweep removes them.' }),
  PRODUCT_NAME: z
    .string()
    .trim()
    .min(1)
    .max(60, 'must be at most 60 characters')
    .default('wallet-oidc')
    .meta({ description: 'The name in page titles and headers (at most 60 characters).' }),
  BRAND_LOGO_URL: z
    .string()
    .refine(
      (v) => v.startsWith('/static/') || /^https:\/\//.test(v) || v.startsWith('data:image/'),
      'must be an https URL, a data:image URL or a /static/ path',
    )
    .optional()
    .meta({
      description: 'A header logo on the pages: an `https://` URL, a `data:image/` URL, or a `/static/` path.',
      unset: 'no logo',
      examples: ['https://example.com/logo.svg'],
    }),
  BRAND_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour as #rrggbb')
    .superRefine((color, ctx) => {
      if (!/^#[0-9a-fA-F]{6}$/.test(color)) return;
      const { ratio } = buttonText(color);
      if (ratio < MIN_CONTRAST) {
        ctx.addIssue({
          code: 'custom',
          message: `gives button text a contrast of ${ratio.toFixed(2)}:1 at best (white or near-black), below WCAG AA's ${MIN_CONTRAST}:1; choose a darker or lighter colour`,
        });
      }
    })
    .optional()
    .meta({
      description:
        'The colour of the primary buttons, `#rrggbb`, in both colour schemes. Their text is white or near-black, whichever contrasts more, ' +
        `and a colour where neither reaches ${MIN_CONTRAST}:1 (WCAG AA) is refused at start-up.`,
      unset: 'the default blue',
      examples: ['#1f6f43'],
    }),
  // Appended to the EIP-4361 statement, so it must fit the statement grammar (one line, no exotic characters).
  BRAND_STATEMENT: z
    .string()
    .max(200, 'must be at most 200 characters')
    .regex(/^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]*$/, "must use only letters, digits, spaces and -._~:/?#[]@!$&'()*+,;= (EIP-4361 statement)")
    .optional()
    .meta({
      description:
        'A sentence appended to every EIP-4361 statement, after `Sign in to <client>.` ' +
        "(at most 200 characters, the statement's character set: letters, digits, spaces and `-._~:/?#[]@!$&'()*+,;=`).",
      unset: 'nothing appended',
      examples: ['Terms: https://example.com/terms'],
    }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be a pino level')
    .default('info')
    .meta({ description: 'The lowest pino level logged. The CLI logs at `warn` (to stderr) unless `LOG_LEVEL` is set.' }),
  METRICS_PORT: intIn(0, 65535)
    .optional()
    .meta({
      description:
        'TCP port of a second listener that serves Prometheus metrics at `/metrics` (docs/operations.md). Never served on `PORT`: keep this one off the public network.',
      unset: 'no metrics listener',
      examples: ['9464'],
    }),
  METRICS_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .meta({ description: 'Address the metrics listener binds to (`METRICS_PORT`); `0.0.0.0` or a private interface for a scraper on another host.' }),
});

type Variables = z.output<typeof variables>;
type Name = keyof Variables & string;

/** A rule that holds only with NODE_ENV=production, reported on one variable. */
export interface ProductionRule {
  variable: Name;
  /** What the rule asks of the variable, for the docs table. */
  summary: string;
  /** The other variables it reads. The rule is skipped while one of them (or `variable`) is malformed: that has its own message. */
  reads: Name[];
  /** The problem, or undefined when the rule holds. */
  problem(env: Variables): string | undefined;
}

const required = (variable: Name, why: string): ProductionRule => ({
  variable,
  summary: 'required',
  reads: [],
  problem: (env) => (env[variable] === undefined ? `required when NODE_ENV=production (${why})` : undefined),
});

/** Which keys of a list are not random, naming each by its position (never quoting it), or undefined when all are. */
function findWeakKeys(keys: string[]): string | undefined {
  const weak = keys.map((key, i) => [i, findWeakness(key)] as const).filter(([, why]) => why);
  return weak.length
    ? `${weak.map(([i, why]) => `key ${i + 1} of ${keys.length} ${why}`).join('; ')}: not a random key in production (make one with \`openssl rand -hex 32\`)`
    : undefined;
}

export const PRODUCTION_RULES: readonly ProductionRule[] = [
  {
    variable: 'ISSUER',
    summary: 'an `https://` URL',
    reads: [],
    problem: (env) =>
      env.ISSUER?.protocol === 'https:' ? undefined : 'must be an https URL when NODE_ENV=production (tokens and cookies would travel in clear)',
  },
  {
    variable: 'TRUST_PROXY',
    summary: '`true` or a number of proxies',
    reads: ['ISSUER'],
    // Asked only of an https issuer: for any other, the ISSUER rule already says what to fix.
    problem: (env) =>
      env.ISSUER?.protocol !== 'https:' || env.TRUST_PROXY > 0
        ? undefined
        : 'wallet-oidc serves plain HTTP; with NODE_ENV=production it must run behind a TLS-terminating proxy, so set TRUST_PROXY=true (or the number of proxies)',
  },
  required('DATABASE_URL', 'the embedded PGlite database is for development'),
  required('COOKIE_KEYS', 'comma-separated, each at least 32 characters'),
  required('ENCRYPTION_KEY', '64 hex characters'),
  // A guessable key forges cookies or opens the sealed secrets: refuse the usual placeholders.
  {
    variable: 'COOKIE_KEYS',
    summary: 'random keys',
    reads: [],
    problem: (env) => findWeakKeys(env.COOKIE_KEYS ?? []),
  },
  {
    variable: 'ENCRYPTION_KEY',
    summary: 'a random key',
    reads: [],
    problem: (env) => {
      const why = env.ENCRYPTION_KEY && findWeakness(env.ENCRYPTION_KEY.toString('hex'));
      return why ? `${why}: not a random key in production (make one with \`openssl rand -hex 32\`)` : undefined;
    },
  },
  {
    variable: 'ENCRYPTION_KEY_PREVIOUS',
    summary: 'random keys',
    reads: [],
    // A previous key still opens data: a guessable one is as bad as a guessable ENCRYPTION_KEY.
    problem: (env) => findWeakKeys((env.ENCRYPTION_KEY_PREVIOUS ?? []).map((key) => key.toString('hex'))),
  },
];

/**
 * The production rules (and the rules across variables that hold in every mode), as a check on the whole object. It runs even when some variables are
 * malformed, so their problems and the production ones are reported together; a rule never reads
 * a malformed variable (its value is whatever zod left there).
 */
function checkProductionRules(env: Variables, ctx: z.core.$RefinementCtx<Variables>): void {
  const malformed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  // In every mode: two listeners cannot share a port (0 picks a free one for each).
  if (!malformed.has('METRICS_PORT') && !malformed.has('PORT') && env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    ctx.addIssue({
      code: 'custom',
      path: ['METRICS_PORT'],
      message: `must differ from PORT (${env.PORT}): metrics have a listener of their own`,
      input: env.METRICS_PORT,
    });
  }
  // In every mode: the delay before the listener closes is part of the time the shutdown may take.
  if (!malformed.has('SHUTDOWN_DELAY') && !malformed.has('SHUTDOWN_TIMEOUT') && env.SHUTDOWN_DELAY >= env.SHUTDOWN_TIMEOUT) {
    ctx.addIssue({
      code: 'custom',
      path: ['SHUTDOWN_DELAY'],
      message: `must be less than SHUTDOWN_TIMEOUT (${env.SHUTDOWN_TIMEOUT}): in-flight requests need time to finish after it`,
      input: env.SHUTDOWN_DELAY,
    });
  }
  // In every mode: a handoff link must be claimable while its login can still finish.
  if (!malformed.has('HANDOFF_TTL') && !malformed.has('INTERACTION_TTL') && env.HANDOFF_TTL >= env.INTERACTION_TTL) {
    ctx.addIssue({
      code: 'custom',
      path: ['HANDOFF_TTL'],
      message: `must be shorter than INTERACTION_TTL (${env.INTERACTION_TTL}): the login the link continues would end first`,
      input: env.HANDOFF_TTL,
    });
  }
  // In every mode: a caching RP must be able to learn a pending key before it signs (docs/operations.md, Signing keys).
  if (!malformed.has('JWKS_MAX_AGE') && !malformed.has('KEY_ACTIVATION_DELAY') && env.JWKS_MAX_AGE >= env.KEY_ACTIVATION_DELAY) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWKS_MAX_AGE'],
      message: `must be shorter than KEY_ACTIVATION_DELAY (${env.KEY_ACTIVATION_DELAY}): RPs that cache the JWKS would meet a new key before they fetched it`,
      input: env.JWKS_MAX_AGE,
    });
  }
  // In every mode: an RPC for a chain nobody can sign in from (or read names on) is a typo, not a choice.
  if (!malformed.has('RPC_URLS') && !malformed.has('ALLOWED_CHAINS') && !malformed.has('ENS_CHAIN')) {
    const usable = new Set<number | 'off'>([...env.ALLOWED_CHAINS, env.ENS_CHAIN]);
    const unused = (env.RPC_URLS ?? []).filter((e) => !usable.has(e.chainId)).map((e) => e.chainId);
    if (unused.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['RPC_URLS'],
        message: `names chain ${unused.join(', ')}, which is neither in ALLOWED_CHAINS nor ENS_CHAIN`,
        input: unused,
      });
    }
  }
  if (malformed.has('NODE_ENV') || env.NODE_ENV !== 'production') return;
  for (const rule of PRODUCTION_RULES) {
    if ([rule.variable, ...rule.reads].some((name) => malformed.has(name))) continue;
    const message = rule.problem(env);
    if (message) ctx.addIssue({ code: 'custom', path: [rule.variable], message, input: env[rule.variable] });
  }
}

/** Postgres when DATABASE_URL is set, else the embedded PGlite (typed here so each kind has only its own fields). */
function database(v: Variables): { kind: 'postgres'; url: string; poolMax: number; timeoutSeconds: number } | { kind: 'pglite'; dataDir: string } {
  return v.DATABASE_URL
    ? { kind: 'postgres', url: v.DATABASE_URL, poolMax: v.DATABASE_POOL_MAX, timeoutSeconds: v.DATABASE_TIMEOUT }
    : { kind: 'pglite', dataDir: v.DATA_DIR };
}

/** Where names are read from, when they can be: ENS_CHAIN on, with an RPC_URLS entry. */
function ensConfig(v: Variables): { chainId: number; rpcUrl: URL; registry: string; ttlSeconds: number; retrySeconds: number } | undefined {
  if (v.ENS_CHAIN === 'off') return undefined;
  const rpcUrl = v.RPC_URLS?.find((e) => e.chainId === v.ENS_CHAIN)?.url;
  return rpcUrl && { chainId: v.ENS_CHAIN, rpcUrl, registry: v.ENS_REGISTRY, ttlSeconds: v.ENS_CACHE_TTL, retrySeconds: v.ENS_RETRY_INTERVAL };
}

/** Empty strings count as unset, as in most twelve-factor tools. */
const withoutEmpty = (env: unknown): unknown =>
  env && typeof env === 'object' ? Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')) : env;

/** From the environment (process.env, or any record of strings) to `Config`. */
export const configSchema = z
  .preprocess(withoutEmpty, variables.superRefine(checkProductionRules, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }))
  .transform((v) => ({
    production: v.NODE_ENV === 'production',
    issuer: v.ISSUER ?? new URL(`http://localhost:${v.PORT}`),
    port: v.PORT,
    host: v.HOST,
    /** Whether a proxy is in front (X-Forwarded-Proto, X-Forwarded-For), and how many add to X-Forwarded-For. */
    trustProxy: v.TRUST_PROXY > 0,
    proxyHops: v.TRUST_PROXY,
    database: database(v),
    /** Signed-cookie keys, newest first; undefined means "generate and keep in the database". */
    cookieKeys: v.COOKIE_KEYS,
    /** 32-byte key that encrypts client secrets and private signing keys at rest; undefined in development means generated. */
    encryptionKey: v.ENCRYPTION_KEY,
    /** Earlier keys, accepted for opening only while ENCRYPTION_KEY is rotated (src/db/secret-box.ts). */
    previousEncryptionKeys: v.ENCRYPTION_KEY_PREVIOUS ?? [],
    allowedChains: v.ALLOWED_CHAINS,
    subFormat: v.SUB_FORMAT,
    /** JSON-RPC endpoints by chain id (contract wallets, ENS), and the time a signature check may take over one. */
    rpc: { urls: new Map((v.RPC_URLS ?? []).map((e) => [e.chainId, e.url] as const)), timeoutMs: v.RPC_TIMEOUT_MS },
    /** ENS names (ens/): undefined when ENS_CHAIN is off or has no RPC. */
    ens: ensConfig(v),
    challengeTtlSeconds: v.CHALLENGE_TTL,
    handoffTtlSeconds: v.HANDOFF_TTL,
    ttl: {
      session: v.SESSION_TTL,
      interaction: v.INTERACTION_TTL,
      accessToken: v.ACCESS_TOKEN_TTL,
      idToken: v.ID_TOKEN_TTL,
      authorizationCode: v.AUTHORIZATION_CODE_TTL,
      // A grant outlives the session while its refresh tokens are valid.
      grant: Math.max(v.SESSION_TTL, v.REFRESH_TOKEN_TTL),
      refreshToken: v.REFRESH_TOKEN_TTL,
      deviceCode: v.DEVICE_CODE_TTL,
    },
    /** Seconds between a device's token requests for one device code (RFC 8628 §3.2 `interval`). */
    devicePollIntervalSeconds: v.DEVICE_POLL_INTERVAL,
    /** Hosts oidc-provider may reach even on private or loopback addresses (jwks_uri, back-channel logout). */
    outboundPrivateHosts: v.OUTBOUND_PRIVATE_HOSTS ?? [],
    /** Seconds a looked-up client is kept in memory (0: always read the database). */
    clientCacheTtlSeconds: v.CLIENT_CACHE_TTL,
    /** Seconds between polls of the change feed's table on Postgres (db/changes.ts). */
    changePollIntervalSeconds: v.CHANGE_POLL_INTERVAL,
    sweepIntervalSeconds: v.SWEEP_INTERVAL,
    /** The graceful shutdown (src/http/shutdown.ts): listener kept open `delaySeconds`, forced exit at `timeoutSeconds`. */
    shutdown: { delaySeconds: v.SHUTDOWN_DELAY, timeoutSeconds: v.SHUTDOWN_TIMEOUT },
    /** Staged signing-key rotation (oidc/signing-keys.ts): seconds from `keys rotate` to signing, and the JWKS's max-age. */
    keys: { activationDelaySeconds: v.KEY_ACTIVATION_DELAY, jwksMaxAgeSeconds: v.JWKS_MAX_AGE },
    loginEventRetentionDays: v.LOGIN_EVENT_RETENTION_DAYS,
    /** Every rate limit (src/http/rate-limit.ts); a `name` keys its counters, so never reuse one for another rule. */
    rateLimits: {
      login: { name: 'login', limit: v.LOGIN_RATE_LIMIT, windowSeconds: 60 },
      verifyAddress: { name: 'verify-address', limit: v.VERIFY_ADDRESS_RATE_LIMIT, windowSeconds: 60 },
      handoffStatus: { name: 'handoff-status', limit: v.HANDOFF_STATUS_RATE_LIMIT, windowSeconds: 60 },
      authorization: { name: 'auth', limit: v.AUTHORIZATION_RATE_LIMIT, windowSeconds: 60 },
      token: { name: 'token', limit: v.TOKEN_RATE_LIMIT, windowSeconds: 60 },
      introspection: { name: 'introspection', limit: v.TOKEN_RATE_LIMIT, windowSeconds: 60 },
      revocation: { name: 'revocation', limit: v.TOKEN_RATE_LIMIT, windowSeconds: 60 },
      endSession: { name: 'end-session', limit: v.END_SESSION_RATE_LIMIT, windowSeconds: 60 },
      deviceAuthorization: { name: 'device-auth', limit: v.DEVICE_AUTHORIZATION_RATE_LIMIT, windowSeconds: 60 },
      userCode: { name: 'user-code', limit: v.USER_CODE_RATE_LIMIT, windowSeconds: 60 },
      // One token request per device code per interval, keyed by the code's hash (http/protocol-gate.ts).
      devicePoll: { name: 'device-poll', limit: 1, windowSeconds: v.DEVICE_POLL_INTERVAL },
      clientAuthFailures: { name: 'client-auth', limit: v.CLIENT_AUTH_FAILURE_LIMIT, windowSeconds: 60 },
      clientLockout: { name: 'client-lockout', limit: v.CLIENT_LOCKOUT_LIMIT, windowSeconds: 3600, blockSeconds: v.CLIENT_LOCKOUT },
    },
    logLevel: v.LOG_LEVEL,
    /** The Prometheus listener (src/metrics/server.ts); undefined when METRICS_PORT is unset. */
    metrics: v.METRICS_PORT === undefined ? undefined : { port: v.METRICS_PORT, host: v.METRICS_HOST },
    brand: { productName: v.PRODUCT_NAME, logoUrl: v.BRAND_LOGO_URL, color: v.BRAND_COLOR, statement: v.BRAND_STATEMENT },
  }));

export type Config = z.output<typeof configSchema>;

/** Each variable's own schema, by name, in the order the docs list them. */
export const CONFIG_VARIABLE_SCHEMAS = configSchema.in.out.shape;

/** The variables loadConfig reads, in the order the docs list them. */
export const CONFIG_VARIABLES = Object.keys(CONFIG_VARIABLE_SCHEMAS) as Name[];

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`));
  return parsed.data;
}
