// loadConfig(env): the only place that reads the environment. Validates everything at once.
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { DEFAULT_CHAINS } from './chains.ts';
import { buttonText, MIN_CONTRAST } from './contrast.ts';

export interface Config {
  production: boolean;
  issuer: URL;
  port: number;
  host: string | undefined;
  trustProxy: boolean;
  database: { kind: 'postgres'; url: string; poolMax: number } | { kind: 'pglite'; dataDir: string };
  /** Signed-cookie keys, newest first; undefined means "generate and keep in the database". */
  cookieKeys: string[] | undefined;
  /** 32-byte key that encrypts client secrets and private signing keys at rest; undefined in development means generated. */
  encryptionKey: Buffer | undefined;
  allowedChains: number[];
  subFormat: 'address' | 'caip10';
  challengeTtlSeconds: number;
  ttl: { session: number; interaction: number; accessToken: number; idToken: number; authorizationCode: number; grant: number; refreshToken: number };
  /** Hosts oidc-provider may reach even on private or loopback addresses (jwks_uri, back-channel logout). */
  outboundPrivateHosts: string[];
  /** Seconds a looked-up client is kept in memory (0: always read the database). */
  clientCacheTtlSeconds: number;
  sweepIntervalSeconds: number;
  loginEventRetentionDays: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  brand: { productName: string; logoUrl: string | undefined; color: string | undefined; statement: string | undefined };
}

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z.enum(['true', 'false', '1', '0'], 'must be true or false').transform((v) => v === 'true' || v === '1');

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
  .refine((v) => !/[?#]/.test(v), 'must not have a query or fragment')
  .transform((v) => new URL(v.replace(/\/+$/, '')));

const list = (item: z.ZodType<unknown, string>) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, 'must list at least one value'));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test'], 'must be development, production or test').default('development'),
  PORT: intIn(0, 65535).default(3000),
  HOST: z.string().min(1).optional(),
  ISSUER: httpUrl.optional(),
  TRUST_PROXY: bool.default(false),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_MAX: intIn(1, 1000).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  COOKIE_KEYS: list(z.string().min(32, 'each key must be at least 32 characters')).optional(),
  ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`')
    .transform((v) => Buffer.from(v, 'hex'))
    .optional(),
  ALLOWED_CHAINS: list(
    z
      .string()
      .regex(/^[1-9]\d*$/, 'each chain id must be a positive whole number')
      .transform(Number)
      .refine(Number.isSafeInteger, `each chain id must be at most ${Number.MAX_SAFE_INTEGER}`),
  ).optional(),
  SUB_FORMAT: z.enum(['address', 'caip10'], 'must be address or caip10').default('address'),
  CHALLENGE_TTL: intIn(30, 3600).default(300),
  SESSION_TTL: intIn(60, 365 * 86400).default(14 * 86400),
  INTERACTION_TTL: intIn(60, 86400).default(3600),
  ACCESS_TOKEN_TTL: intIn(60, 86400).default(3600),
  ID_TOKEN_TTL: intIn(60, 86400).default(3600),
  AUTHORIZATION_CODE_TTL: intIn(10, 600).default(60),
  REFRESH_TOKEN_TTL: intIn(60, 365 * 86400).default(30 * 86400),
  OUTBOUND_PRIVATE_HOSTS: list(
    z
      .string()
      .refine(
        (h) => isIP(h.replace(/^\[|\]$/g, '')) === 6 || /^[^\s/?#@:[\]]+$/.test(h),
        'each entry must be a host name or IP address, without scheme, port or path',
      ),
  ).optional(),
  CLIENT_CACHE_TTL: intIn(0, 3600).default(10),
  SWEEP_INTERVAL: intIn(0, 86400).default(600),
  LOGIN_EVENT_RETENTION_DAYS: intIn(1, 3650).default(90),
  PRODUCT_NAME: z.string().trim().min(1).max(60, 'must be at most 60 characters').default('wallet-oidc'),
  BRAND_LOGO_URL: z
    .string()
    .refine(
      (v) => v.startsWith('/static/') || /^https:\/\//.test(v) || v.startsWith('data:image/'),
      'must be an https URL, a data:image URL or a /static/ path',
    )
    .optional(),
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
    .optional(),
  // Appended to the EIP-4361 statement, so it must fit the statement grammar (one line, no exotic characters).
  BRAND_STATEMENT: z
    .string()
    .max(200, 'must be at most 200 characters')
    .regex(/^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]*$/, "must use only letters, digits, spaces and -._~:/?#[]@!$&'()*+,;= (EIP-4361 statement)")
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be a pino level').default('info'),
});

/** The variables loadConfig reads, in the order the README documents them. */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

/** Rules that need several variables together; run on the raw values so they report beside format errors. */
function productionProblems(input: Record<string, string | undefined>): string[] {
  if (input.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  const issuer = input.ISSUER && URL.canParse(input.ISSUER) ? new URL(input.ISSUER) : undefined;
  if (!issuer || issuer.protocol !== 'https:') {
    problems.push('ISSUER: must be an https URL when NODE_ENV=production (tokens and cookies would travel in clear)');
  } else if (input.TRUST_PROXY !== 'true' && input.TRUST_PROXY !== '1') {
    problems.push('TRUST_PROXY: wallet-oidc serves plain HTTP; with NODE_ENV=production it must run behind a TLS-terminating proxy, so set TRUST_PROXY=true');
  }
  if (!input.DATABASE_URL) problems.push('DATABASE_URL: required when NODE_ENV=production (the embedded PGlite database is for development)');
  if (!input.COOKIE_KEYS) problems.push('COOKIE_KEYS: required when NODE_ENV=production (comma-separated, each at least 32 characters)');
  if (!input.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required when NODE_ENV=production (64 hex characters)');
  return problems;
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset, as in most twelve-factor tools.
  const input = Object.fromEntries(CONFIG_VARIABLES.map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = schema.safeParse(input);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
  problems.push(...productionProblems(input));
  if (input.ISSUER && URL.canParse(input.ISSUER) && !['/', ''].includes(new URL(input.ISSUER).pathname)) {
    problems.push('ISSUER: must not have a path (wallet-oidc serves its endpoints at the root)');
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const v = parsed.data;
  const issuer = v.ISSUER ?? new URL(`http://localhost:${v.PORT}`);

  return {
    production: v.NODE_ENV === 'production',
    issuer,
    port: v.PORT,
    host: v.HOST,
    trustProxy: v.TRUST_PROXY,
    database: v.DATABASE_URL ? { kind: 'postgres', url: v.DATABASE_URL, poolMax: v.DATABASE_POOL_MAX } : { kind: 'pglite', dataDir: v.DATA_DIR },
    cookieKeys: v.COOKIE_KEYS as string[] | undefined,
    encryptionKey: v.ENCRYPTION_KEY,
    allowedChains: (v.ALLOWED_CHAINS as number[] | undefined) ?? Object.keys(DEFAULT_CHAINS).map(Number),
    subFormat: v.SUB_FORMAT,
    challengeTtlSeconds: v.CHALLENGE_TTL,
    ttl: {
      session: v.SESSION_TTL,
      interaction: v.INTERACTION_TTL,
      accessToken: v.ACCESS_TOKEN_TTL,
      idToken: v.ID_TOKEN_TTL,
      authorizationCode: v.AUTHORIZATION_CODE_TTL,
      // A grant outlives the session while its refresh tokens are valid.
      grant: Math.max(v.SESSION_TTL, v.REFRESH_TOKEN_TTL),
      refreshToken: v.REFRESH_TOKEN_TTL,
    },
    outboundPrivateHosts: (v.OUTBOUND_PRIVATE_HOSTS as string[] | undefined) ?? [],
    clientCacheTtlSeconds: v.CLIENT_CACHE_TTL,
    sweepIntervalSeconds: v.SWEEP_INTERVAL,
    loginEventRetentionDays: v.LOGIN_EVENT_RETENTION_DAYS,
    logLevel: v.LOG_LEVEL,
    brand: { productName: v.PRODUCT_NAME, logoUrl: v.BRAND_LOGO_URL, color: v.BRAND_COLOR, statement: v.BRAND_STATEMENT },
  };
}

/** The issuer's host with port, as EIP-4361 wants it in `domain` (siwe-oidc #91, #36). */
export function issuerDomain(issuer: URL): string {
  return issuer.host;
}
