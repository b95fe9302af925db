// Unit tests for loadConfig (src/config/index.ts): defaults, one problem per bad variable, production rules,
// and the documentation every variable carries in the schema.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { CONFIG_VARIABLE_SCHEMAS, CONFIG_VARIABLES, loadConfig, PRODUCTION_RULES } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

/** Keys as `openssl rand -hex` makes them (fixed, so a failure repeats): production refuses anything less random. */
const RANDOM_KEYS = {
  cookie: ['3006445618bfe0003bb2e3b818dfcd210d31ad1e78e8257161af6b711468de65', '4e6608a8ac4ddc2780b548e42a6c34f11731bec7'],
  encryption: '800029b95d7410af5b13c6bc33140052e70898a9678bb192ef799dd6b2b2d03c',
};

function setup() {
  /** A production environment with everything it requires. */
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://id.example.com',
    TRUST_PROXY: 'true',
    COOKIE_KEYS: RANDOM_KEYS.cookie.join(','),
    ENCRYPTION_KEY: RANDOM_KEYS.encryption,
    DATABASE_URL: 'postgres://wallet@db.internal:5432/wallet',
  };
  /** The variables named by the problems loadConfig reports; fails the test if it does not throw ConfigError. */
  const refused = (env: Record<string, string | undefined>): string[] => {
    try {
      loadConfig(env);
    } catch (e) {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.ok(e.problems.length > 0);
      return e.problems.map((p) => p.slice(0, p.indexOf(':')));
    }
    assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
  };
  /** The messages loadConfig reports. */
  const problems = (env: Record<string, string | undefined>): string[] => {
    try {
      loadConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    return [];
  };
  return { production, refused, problems };
}

/** One invalid value per variable. HOST, METRICS_HOST and DATA_DIR are free-form: any non-empty value is valid, and empty means unset. */
const INVALID: Record<string, string[]> = {
  NODE_ENV: ['staging'],
  PORT: ['http', '-1', '70000', '3000.5'],
  ISSUER: ['id.example.com', 'ftp://id.example.com', 'https://id.example.com/?tenant=a', 'https://id.example.com/#x'],
  TRUST_PROXY: ['yes', '-1', '1.5', '11', '100'],
  DATABASE_URL: ['mysql://db/wallet', './data'],
  DATABASE_POOL_MAX: ['0', 'many'],
  DATABASE_TIMEOUT: ['0', '301', '2.5'],
  COOKIE_KEYS: ['too-short', `${'k'.repeat(32)},short`, ' , '],
  ENCRYPTION_KEY: ['abc', 'z'.repeat(64), '0123456789abcdef'.repeat(3)],
  ENCRYPTION_KEY_PREVIOUS: ['abc', `${'0123456789abcdef'.repeat(4)},short`, ' , '],
  ALLOWED_CHAINS: ['0', 'mainnet', '1,-5', ' , '],
  SUB_FORMAT: ['did'],
  RPC_URLS: [
    'https://eth.example',
    '1=eth.example',
    '1=ftp://eth.example',
    '0=https://eth.example',
    '1=https://a.example,1=https://b.example',
    '999=https://x.example',
    ' , ',
  ],
  RPC_TIMEOUT_MS: ['99', '60001', '4s'],
  ENS_CHAIN: ['mainnet', '0'],
  ENS_REGISTRY: ['0x123', 'registry.eth'],
  ENS_CACHE_TTL: ['59', '2592001'],
  ENS_RETRY_INTERVAL: ['9', '86401'],
  CHALLENGE_TTL: ['5', '7200', '5m'],
  HANDOFF_TTL: ['10', '7200', '5m'],
  SESSION_TTL: ['1'],
  INTERACTION_TTL: ['1'],
  ACCESS_TOKEN_TTL: ['1'],
  ID_TOKEN_TTL: ['1'],
  AUTHORIZATION_CODE_TTL: ['1', '601'],
  REFRESH_TOKEN_TTL: ['1', '31536001'],
  DEVICE_CODE_TTL: ['59', '3601', '10m'],
  DEVICE_POLL_INTERVAL: ['0', '61'],
  OUTBOUND_PRIVATE_HOSTS: ['kc.internal:8443', 'https://kc.internal', 'kc.internal/realms', 'user@kc.internal', ' , '],
  CLIENT_CACHE_TTL: ['-1', '3601'],
  SHUTDOWN_TIMEOUT: ['0', '3601', '25s'],
  SHUTDOWN_DELAY: ['-1', '301', '25'],
  CHANGE_POLL_INTERVAL: ['0', '3601'],
  PRODUCT_NAME: ['x'.repeat(61)],
  BRAND_LOGO_URL: ['http://cdn.example/logo.png', 'javascript:alert(1)', 'logo.png'],
  BRAND_COLOR: ['blue', '#fff', '#12345g', '#d64541'],
  BRAND_STATEMENT: ['line one\nline two', 'naïve', 'x'.repeat(201)],
  SWEEP_INTERVAL: ['-1', '86401'],
  LOGIN_EVENT_RETENTION_DAYS: ['0'],
  LOGIN_RATE_LIMIT: ['-1', 'ten', '1000001'],
  HANDOFF_STATUS_RATE_LIMIT: ['-1', 'ten', '1000001'],
  VERIFY_ADDRESS_RATE_LIMIT: ['-1', '1000001'],
  AUTHORIZATION_RATE_LIMIT: ['-1', '1000001'],
  TOKEN_RATE_LIMIT: ['-1', '1000001'],
  END_SESSION_RATE_LIMIT: ['-1', '1000001'],
  DEVICE_AUTHORIZATION_RATE_LIMIT: ['-1', '1000001'],
  USER_CODE_RATE_LIMIT: ['-1', '1000001'],
  CLIENT_AUTH_FAILURE_LIMIT: ['-1', '1000001'],
  CLIENT_LOCKOUT_LIMIT: ['-1', '1000001'],
  CLIENT_LOCKOUT: ['0', '86401'],
  KEY_ACTIVATION_DELAY: ['0', '7776001', 'a day'],
  JWKS_MAX_AGE: ['-1', '86401'],
  LOG_LEVEL: ['loud'],
  METRICS_PORT: ['metrics', '-1', '70000'],
};
const FREE_FORM = ['HOST', 'DATA_DIR', 'METRICS_HOST'];

describe('loadConfig', () => {
  it('works with no variables at all, with development defaults', () => {
    const config = loadConfig({});
    assert.equal(config.production, false);
    assert.equal(config.issuer.href, 'http://localhost:3000/');
    assert.equal(config.port, 3000);
    assert.deepEqual(config.database, { kind: 'pglite', dataDir: './data' });
    assert.ok(config.allowedChains.includes(1));
    assert.equal(config.subFormat, 'address');
    assert.equal(config.challengeTtlSeconds, 300);
    assert.equal(config.trustProxy, false);
    assert.equal(config.proxyHops, 0);
    assert.equal(config.cookieKeys, undefined);
    assert.equal(config.encryptionKey, undefined);
    assert.equal(config.logLevel, 'info');
  });

  it('reads RPC_URLS per chain, and turns ENS on only for ENS_CHAIN with an RPC', () => {
    assert.equal(loadConfig({}).rpc.urls.size, 0);
    assert.equal(loadConfig({}).ens, undefined);
    const config = loadConfig({ RPC_URLS: '1=https://eth.example/v2/KEY, 8453=http://127.0.0.1:8545', RPC_TIMEOUT_MS: '1500' });
    assert.deepEqual(
      [...config.rpc.urls].map(([id, url]) => [id, url.href]),
      [
        [1, 'https://eth.example/v2/KEY'],
        [8453, 'http://127.0.0.1:8545/'],
      ],
    );
    assert.equal(config.rpc.timeoutMs, 1500);
    assert.equal(config.ens?.chainId, 1);
    assert.equal(config.ens?.rpcUrl.href, 'https://eth.example/v2/KEY');
    assert.equal(loadConfig({ RPC_URLS: '1=https://eth.example', ENS_CHAIN: 'off' }).ens, undefined);
    assert.equal(loadConfig({ RPC_URLS: '8453=https://base.example' }).ens, undefined);
    // A chain used only for names need not be one users sign in from.
    assert.equal(loadConfig({ ALLOWED_CHAINS: '8453', RPC_URLS: '1=https://eth.example' }).ens?.chainId, 1);
  });

  it('derives the default issuer from PORT', () => {
    assert.equal(loadConfig({ PORT: '4000' }).issuer.href, 'http://localhost:4000/');
  });

  it('has an invalid example for every variable that can be invalid', () => {
    assert.deepEqual([...Object.keys(INVALID), ...FREE_FORM].sort(), [...CONFIG_VARIABLES].sort());
  });

  for (const [name, values] of Object.entries(INVALID)) {
    for (const value of values) {
      it(`names ${name} when it is ${JSON.stringify(value)}`, () => {
        const { refused } = setup();
        assert.deepEqual(refused({ [name]: value }), [name]);
      });
    }
  }

  it('reports several problems at once', () => {
    const { refused } = setup();
    assert.deepEqual(refused({ PORT: 'http', SUB_FORMAT: 'did', LOG_LEVEL: 'loud', ENCRYPTION_KEY: 'abc' }).sort(), [
      'ENCRYPTION_KEY',
      'LOG_LEVEL',
      'PORT',
      'SUB_FORMAT',
    ]);
  });

  it('reports a malformed variable together with the production requirements', () => {
    const { production, refused } = setup();
    assert.deepEqual(refused({ ...production, COOKIE_KEYS: undefined, LOG_LEVEL: 'loud' }).sort(), ['COOKIE_KEYS', 'LOG_LEVEL']);
  });

  it('refuses a JWKS_MAX_AGE not shorter than KEY_ACTIVATION_DELAY, naming it', () => {
    assert.throws(() => loadConfig({ KEY_ACTIVATION_DELAY: '600', JWKS_MAX_AGE: '600' }), /JWKS_MAX_AGE: must be shorter than KEY_ACTIVATION_DELAY \(600\)/);
    assert.throws(() => loadConfig({ KEY_ACTIVATION_DELAY: '60' }), /JWKS_MAX_AGE: must be shorter than KEY_ACTIVATION_DELAY \(60\)/);
    assert.deepEqual(loadConfig({}).keys, { activationDelaySeconds: 86400, jwksMaxAgeSeconds: 3600 });
  });

  it('refuses METRICS_PORT equal to PORT, naming it, and lets each be 0', () => {
    assert.throws(() => loadConfig({ PORT: '4000', METRICS_PORT: '4000' }), /METRICS_PORT: must differ from PORT \(4000\)/);
    assert.equal(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metrics?.port, 0);
    assert.equal(loadConfig({ PORT: '4000', METRICS_PORT: '9464' }).metrics?.port, 9464);
  });

  it('refuses a HANDOFF_TTL not shorter than INTERACTION_TTL, naming it', () => {
    assert.throws(() => loadConfig({ INTERACTION_TTL: '300', HANDOFF_TTL: '300' }), /HANDOFF_TTL: must be shorter than INTERACTION_TTL \(300\)/);
    assert.equal(loadConfig({ INTERACTION_TTL: '300', HANDOFF_TTL: '299' }).handoffTtlSeconds, 299);
  });

  it('refuses a SHUTDOWN_DELAY that leaves no time in SHUTDOWN_TIMEOUT, naming it', () => {
    assert.throws(() => loadConfig({ SHUTDOWN_DELAY: '25' }), /SHUTDOWN_DELAY: must be less than SHUTDOWN_TIMEOUT \(25\)/);
    assert.throws(() => loadConfig({ SHUTDOWN_TIMEOUT: '0' }), /SHUTDOWN_TIMEOUT: must be at least 1/);
    assert.deepEqual(loadConfig({}).shutdown, { delaySeconds: 0, timeoutSeconds: 25 });
    assert.deepEqual(loadConfig({ SHUTDOWN_DELAY: '5', SHUTDOWN_TIMEOUT: '30' }).shutdown, { delaySeconds: 5, timeoutSeconds: 30 });
  });

  it('treats an empty string as unset', () => {
    const config = loadConfig({ NODE_ENV: '', PORT: '', ISSUER: '', DATABASE_URL: '', COOKIE_KEYS: '', ENCRYPTION_KEY: '', ALLOWED_CHAINS: '', LOG_LEVEL: '' });
    assert.deepEqual(config, loadConfig({}));
    // deepEqual sees no own properties on a URL: compare the issuer by value.
    assert.equal(config.issuer.href, 'http://localhost:3000/');
  });

  it('reads comma-separated lists, trimming spaces and keeping the order', () => {
    const config = loadConfig({ ALLOWED_CHAINS: ' 137, 1 ,', COOKIE_KEYS: `${'n'.repeat(32)} , ${'o'.repeat(32)}` });
    assert.deepEqual(config.allowedChains, [137, 1]);
    assert.deepEqual(config.cookieKeys, ['n'.repeat(32), 'o'.repeat(32)]);
  });

  it('refuses a chain id that a JavaScript number cannot hold exactly', () => {
    const { refused } = setup();
    assert.deepEqual(refused({ ALLOWED_CHAINS: '9999999999999999' }), ['ALLOWED_CHAINS']);
  });

  it('accepts host names, IPv4 and IPv6 literals (bracketed or not) in OUTBOUND_PRIVATE_HOSTS', () => {
    const config = loadConfig({ OUTBOUND_PRIVATE_HOSTS: 'keycloak.internal, 10.0.0.5,[fd00::1],::1' });
    assert.deepEqual(config.outboundPrivateHosts, ['keycloak.internal', '10.0.0.5', '[fd00::1]', '::1']);
  });

  it('decodes ENCRYPTION_KEY into 32 bytes', () => {
    const key = loadConfig({ ENCRYPTION_KEY: '0123456789abcdef'.repeat(4) }).encryptionKey;
    assert.ok(key);
    assert.equal(key.length, 32);
    assert.equal(key.toString('hex'), '0123456789abcdef'.repeat(4));
  });

  it('selects Postgres when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql://wallet@db/wallet', DATABASE_POOL_MAX: '25' });
    assert.deepEqual(config.database, { kind: 'postgres', url: 'postgresql://wallet@db/wallet', poolMax: 25, timeoutSeconds: 5 });
  });

  it('keeps the port of ISSUER and drops a trailing slash', () => {
    const config = loadConfig({ ISSUER: 'https://id.example.com:8443/' });
    assert.equal(config.issuer.host, 'id.example.com:8443');
    assert.equal(config.issuer.origin, 'https://id.example.com:8443');
  });

  it('refuses an ISSUER with a path', () => {
    const { refused } = setup();
    assert.deepEqual(refused({ ISSUER: 'https://id.example.com/oidc' }), ['ISSUER']);
    assert.deepEqual(refused({ ISSUER: 'https://id.example.com/oidc/' }), ['ISSUER']);
  });

  describe('the schema', () => {
    for (const name of CONFIG_VARIABLES) {
      it(`describes ${name}`, () => {
        const description = z.globalRegistry.get(CONFIG_VARIABLE_SCHEMAS[name])?.description;
        assert.ok(description?.trim(), `${name} has no description: add .meta({ description }) to its schema`);
      });
    }

    it('accepts every example it documents', () => {
      const examples = CONFIG_VARIABLES.flatMap((name) => (z.globalRegistry.get(CONFIG_VARIABLE_SCHEMAS[name])?.examples ?? []).map((value) => [name, value]));
      assert.ok(examples.length > 0);
      for (const [name, value] of examples) assert.doesNotThrow(() => loadConfig({ [name!]: value }), `${name}=${value}`);
    });

    it('has production rules only on its own variables', () => {
      for (const rule of PRODUCTION_RULES) {
        assert.ok(
          [rule.variable, ...rule.reads].every((name) => CONFIG_VARIABLES.includes(name)),
          rule.variable,
        );
      }
    });
  });

  it('reads TRUST_PROXY as a number of proxy hops: false or 0 for none, true or 1 for one, or the count', () => {
    for (const [value, hops] of [
      ['false', 0],
      ['0', 0],
      ['true', 1],
      ['1', 1],
      ['3', 3],
      ['10', 10],
    ] as const) {
      const config = loadConfig({ TRUST_PROXY: value });
      assert.deepEqual([config.proxyHops, config.trustProxy], [hops, hops > 0], value);
    }
  });

  describe('in production', () => {
    it('accepts a complete configuration', () => {
      const { production } = setup();
      const config = loadConfig(production);
      assert.equal(config.production, true);
      assert.equal(config.issuer.href, 'https://id.example.com/');
      assert.equal(config.trustProxy, true);
      assert.deepEqual(config.cookieKeys, RANDOM_KEYS.cookie);
      assert.equal(config.encryptionKey?.length, 32);
    });

    it('refuses an http issuer', () => {
      const { production, refused } = setup();
      assert.deepEqual(refused({ ...production, ISSUER: 'http://id.example.com' }), ['ISSUER']);
    });

    it('refuses an https issuer unless TRUST_PROXY names at least one proxy', () => {
      const { production, refused } = setup();
      assert.deepEqual(refused({ ...production, TRUST_PROXY: undefined }), ['TRUST_PROXY']);
      assert.deepEqual(refused({ ...production, TRUST_PROXY: 'false' }), ['TRUST_PROXY']);
      assert.deepEqual(refused({ ...production, TRUST_PROXY: '0' }), ['TRUST_PROXY']);
      assert.equal(loadConfig({ ...production, TRUST_PROXY: '2' }).proxyHops, 2);
    });

    it('refuses to start without COOKIE_KEYS', () => {
      const { production, refused } = setup();
      assert.deepEqual(refused({ ...production, COOKIE_KEYS: undefined }), ['COOKIE_KEYS']);
    });

    it('refuses to start without ENCRYPTION_KEY', () => {
      const { production, refused } = setup();
      assert.deepEqual(refused({ ...production, ENCRYPTION_KEY: '' }), ['ENCRYPTION_KEY']);
    });

    it('refuses cookie keys that are not random, naming which key and why', () => {
      const { production, refused, problems } = setup();
      const weak: [string, RegExp][] = [
        ['a'.repeat(32), /key 2 of 2 is one character repeated/],
        ['0123456789abcdef'.repeat(2), /key 2 of 2 repeats a pattern of 16 characters/],
        ['abcdefghijklmnopqrstuvwxyz012345', /key 2 of 2 is mostly a run of consecutive characters/],
        ['my-cookie-secret-please-change-it', /key 2 of 2 contains "secret", a placeholder/],
        ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab', /key 2 of 2 has too few distinct characters/],
      ];
      for (const [key, reason] of weak) {
        const env = { ...production, COOKIE_KEYS: `${RANDOM_KEYS.cookie[0]},${key}` };
        assert.deepEqual(refused(env), ['COOKIE_KEYS'], key);
        const [message] = problems(env);
        assert.match(message!, reason, key);
        assert.match(message!, /openssl rand -hex 32/);
        assert.ok(!message!.includes(key), 'the message never quotes the key');
      }
    });

    it('refuses an ENCRYPTION_KEY that is not random', () => {
      const { production, refused } = setup();
      for (const key of ['0'.repeat(64), 'ab'.repeat(32), '0123456789abcdef'.repeat(4), `${'f'.repeat(60)}0123`]) {
        assert.deepEqual(refused({ ...production, ENCRYPTION_KEY: key }), ['ENCRYPTION_KEY'], key);
      }
    });

    it('refuses an ENCRYPTION_KEY_PREVIOUS entry that is not random, naming which', () => {
      const { production, refused } = setup();
      const env = { ...production, ENCRYPTION_KEY_PREVIOUS: `${RANDOM_KEYS.encryption},${'0'.repeat(64)}` };
      assert.deepEqual(refused(env), ['ENCRYPTION_KEY_PREVIOUS']);
      assert.throws(() => loadConfig(env), /ENCRYPTION_KEY_PREVIOUS: key 2 of 2 is one character repeated/);
    });

    it('decodes ENCRYPTION_KEY_PREVIOUS into 32-byte keys, in the order given', () => {
      const [a, b] = ['0123456789abcdef'.repeat(4), 'fedcba9876543210'.repeat(4)];
      const config = loadConfig({ ENCRYPTION_KEY_PREVIOUS: ` ${a} , ${b}` });
      assert.deepEqual(config.previousEncryptionKeys, [Buffer.from(a, 'hex'), Buffer.from(b, 'hex')]);
      assert.deepEqual(loadConfig({}).previousEncryptionKeys, []);
    });

    it('accepts the same weak keys in development', () => {
      assert.doesNotThrow(() => loadConfig({ COOKIE_KEYS: 'a'.repeat(32), ENCRYPTION_KEY: '0'.repeat(64) }));
    });

    it('reports a malformed variable once, by its own message, beside the other requirements', () => {
      const { production, refused } = setup();
      assert.deepEqual(refused({ ...production, ISSUER: 'http://id.example.com/oidc' }), ['ISSUER']);
      assert.deepEqual(refused({ ...production, TRUST_PROXY: 'yes', DATABASE_URL: undefined }), ['TRUST_PROXY', 'DATABASE_URL']);
      assert.deepEqual(refused({ ...production, ENCRYPTION_KEY: 'abc', COOKIE_KEYS: undefined }), ['ENCRYPTION_KEY', 'COOKIE_KEYS']);
    });

    it('reports every missing requirement at once', () => {
      const { refused } = setup();
      assert.deepEqual(refused({ NODE_ENV: 'production' }).sort(), ['COOKIE_KEYS', 'DATABASE_URL', 'ENCRYPTION_KEY', 'ISSUER']);
    });
  });
});
