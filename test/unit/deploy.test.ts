// The deployment files, checked without Docker or a cluster: the Dockerfile runs the compiled build on an LTS Node;
// the Kubernetes manifests render (their kustomization) and validate against the Kubernetes schemas shipped in
// kubernetes-models; the compose file and its Caddyfile agree on ports, and Caddy validates the Caddyfile; and every variable either sets is one
// the configuration schema knows, with values that pass the production rules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config/index.ts';
import { ROOT } from '../helpers/process.ts';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** Values for the secrets the files leave to the operator: well-formed, as an operator would generate them. */
const SECRETS: Record<string, string> = {
  DATABASE_URL: 'postgres://wallet_oidc:secret@postgres:5432/wallet_oidc',
  POSTGRES_PASSWORD: 'ab'.repeat(12),
  COOKIE_KEYS: randomBytes(32).toString('hex'),
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

/** The names a file sets that the configuration schema does not know. */
const unknownVariables = (names: string[]) => names.filter((name) => !(CONFIG_VARIABLES as string[]).includes(name));

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1)!;

  it('builds in one stage and runs the compiled server with production dependencies only in the last', () => {
    assert.equal(stages.length, 2);
    assert.match(stages[0]!, /^RUN npm run build$/m);
    assert.match(runtime, /^RUN npm ci --omit=dev\b/m);
    assert.match(runtime, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.doesNotMatch(runtime, /^COPY (src|migrations|views) /m, 'the runtime takes the compiled build, not the sources');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)![1]!) as string[];
    assert.deepEqual(cmd, ['node', 'dist/src/main.js'], 'exec form, plain node, the compiled server');
    // scripts/build.ts writes src/main.ts's output there.
    assert.ok(fs.existsSync(path.join(ROOT, 'src/main.ts')));
  });

  it('uses a Node LTS release that oidc-provider supports, as a non-root user, with a health check', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)?.[1];
    assert.ok(image && Number(image) >= 22 && Number(image) % 2 === 0, `node:${image} is not an LTS line ≥ 22`);
    assert.match(runtime, /^USER 1000:1000$/m, 'numeric, so Kubernetes can verify runAsNonRoot');
    assert.match(runtime, /^HEALTHCHECK .*\n\s+CMD .*\/readyz/m, 'Docker routes by it (Caddy, compose): readiness');
    assert.match(runtime, /^ENV NODE_ENV=production\b/m);
  });

  it('copies only what .dockerignore lets into the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const file of source!.split(' ')) assert.ok(!ignored.includes(file), `${file} is copied but ignored`);
    }
    for (const kept of ['node_modules', 'dist', '.env', 'data']) assert.ok(ignored.includes(kept), `${kept} must stay out of the context`);
  });
});

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/**
 * `kubectl kustomize deploy/kubernetes`, for the features our kustomization uses (resources and images); any other
 * field fails here rather than being silently ignored.
 */
function renderKustomization(dir: string): Manifest[] {
  const kustomization = parseYaml(read(path.join(dir, 'kustomization.yaml'))) as {
    resources: string[];
    images?: { name: string; newName?: string; newTag?: string }[];
  };
  assert.deepEqual(unexpectedKeys(kustomization, ['apiVersion', 'kind', 'resources', 'images']), []);
  const manifests = kustomization.resources.flatMap((file) => parseAllDocuments(read(path.join(dir, file))).map((doc) => doc.toJS() as Manifest));
  const images = new Map((kustomization.images ?? []).map((i) => [i.name, `${i.newName ?? i.name}${i.newTag ? `:${i.newTag}` : ''}`]));
  for (const container of manifests.flatMap(containersOf)) container.image = images.get(container.image) ?? container.image;
  return manifests;
}

const unexpectedKeys = (object: object, known: string[]) => Object.keys(object).filter((key) => !known.includes(key));

interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  [probe: string]: unknown;
}

interface PodSpec {
  containers: Container[];
}

const podTemplateOf = (m: Manifest) => (m.spec as { template?: { metadata: { labels: Record<string, string> }; spec: PodSpec } } | undefined)?.template;
const containersOf = (m: Manifest): Container[] => podTemplateOf(m)?.spec.containers ?? [];

/** The validating model kubernetes-models ships for an apiVersion and kind (its JSON schemas, compiled). */
async function modelFor(m: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const group = m.apiVersion.includes('/') ? m.apiVersion : `v1`;
  const models = (await import(`kubernetes-models/${group}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const model = models[m.kind];
  assert.ok(model, `kubernetes-models has no ${m.apiVersion} ${m.kind}`);
  return model;
}

describe('deploy/kubernetes', () => {
  const manifests = renderKustomization('deploy/kubernetes');
  const find = (kind: string, name = 'wallet-oidc') => {
    const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    assert.ok(found, `no ${kind} ${name}`);
    return found;
  };
  const deployment = find('Deployment');
  const job = find('Job', 'wallet-oidc-migrate');
  const configMap = find('ConfigMap') as Manifest & { data: Record<string, string> };
  const podLabels = podTemplateOf(deployment)!.metadata.labels;
  const [server] = containersOf(deployment);

  it('has a Deployment, a migration Job, a Service, an HPA and a PodDisruptionBudget', () => {
    for (const kind of ['Deployment', 'Job', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ConfigMap']) {
      assert.ok(
        manifests.some((m) => m.kind === kind),
        kind,
      );
    }
  });

  it('validates every object against the Kubernetes schemas', async () => {
    for (const m of manifests) {
      const Model = await modelFor(m);
      assert.doesNotThrow(() => new Model(m).validate(), `${m.kind} ${m.metadata.name}`);
    }
  });

  it('points the Service, the PodDisruptionBudget, the NetworkPolicy and the HPA at the server pods', () => {
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    const spec = (kind: string) => find(kind).spec as Record<string, { matchLabels?: Record<string, string> } & Record<string, unknown>>;
    assert.ok(selects((deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels));
    assert.ok(selects(spec('Service').selector as Record<string, string>));
    assert.ok(selects(spec('PodDisruptionBudget').selector!.matchLabels!));
    assert.ok(selects(spec('NetworkPolicy').podSelector!.matchLabels!));
    assert.deepEqual(spec('HorizontalPodAutoscaler').scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'wallet-oidc' });
    const servicePorts = spec('Service').ports as unknown as { targetPort: string }[];
    assert.ok(servicePorts.every((p) => server!.ports!.some((c) => c.name === p.targetPort)));
  });

  it('probes liveness and start-up on /healthz and readiness on /readyz, on the port the server listens on', () => {
    const http = server!.ports!.find((p) => p.name === 'http')!;
    assert.equal(String(http.containerPort), configMap.data.PORT);
    const paths = { startupProbe: '/healthz', readinessProbe: '/readyz', livenessProbe: '/healthz' };
    for (const [probe, expected] of Object.entries(paths)) {
      assert.deepEqual((server![probe] as { httpGet: unknown }).httpGet, { path: expected, port: 'http' }, probe);
    }
  });

  it('lets the server drain: preStop plus SHUTDOWN_TIMEOUT (SHUTDOWN_DELAY included) fit in the grace period', () => {
    const config = loadConfig({ ...configMap.data, ...SECRETS });
    const preStop = (server!.lifecycle as { preStop?: { exec?: { command: string[] } } } | undefined)?.preStop?.exec?.command;
    const sleep = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    const grace = (podTemplateOf(deployment)!.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ?? 30;
    // SHUTDOWN_TIMEOUT counts from SIGTERM and includes SHUTDOWN_DELAY; the grace period counts from preStop.
    assert.ok(sleep + config.shutdown.timeoutSeconds < grace, `preStop ${sleep} s + SHUTDOWN_TIMEOUT ${config.shutdown.timeoutSeconds} s ≥ grace ${grace} s`);
  });

  it('runs the compiled CLI migration with the server image, configuration and secrets', () => {
    const [migrate] = containersOf(job);
    assert.deepEqual(migrate!.command, ['node', 'dist/src/cli/index.js', 'migrate']);
    assert.equal(migrate!.image, server!.image);
    assert.match(server!.image, /^registry\.example\.com\/wallet-oidc:/, 'the kustomization sets the image');
    assert.deepEqual(migrate!.env, server!.env);
    assert.deepEqual(migrate!.envFrom, server!.envFrom);
  });

  it('sets only known variables, and they pass the production rules', () => {
    const fromSecret = server!.env!.map((e) => {
      // Only the previous encryption keys may be missing from the Secret: they are there only during a rotation.
      const optional = e.name === 'ENCRYPTION_KEY_PREVIOUS' ? { optional: true } : {};
      assert.deepEqual(e.valueFrom?.secretKeyRef, { name: 'wallet-oidc', key: e.name, ...optional }, `${e.name} comes from the Secret wallet-oidc`);
      return e.name;
    });
    assert.deepEqual(server!.envFrom, [{ configMapRef: { name: 'wallet-oidc' } }]);
    assert.deepEqual(unknownVariables([...Object.keys(configMap.data), ...fromSecret]), []);
    const config = loadConfig({ ...configMap.data, ...Object.fromEntries(fromSecret.map((name) => [name, SECRETS[name]])) });
    assert.equal(config.production, true);
    assert.equal(config.proxyHops, 1, 'exactly one trusted proxy hop');
    const ingress = find('Ingress').spec as { rules: { host: string }[]; tls: { hosts: string[] }[] };
    assert.equal(ingress.rules[0]!.host, config.issuer.host, 'the Ingress serves the ISSUER host');
    assert.deepEqual(ingress.tls[0]!.hosts, [config.issuer.host]);
  });
});

/** Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR:?error}`, from `vars` (unset: the default). */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    if (vars[name] !== undefined) return vars[name]!;
    if (op === '-') return arg!;
    throw new Error(`${name} is required: ${arg ?? 'no default'}`);
  });
}

describe('docker-compose.yml and its Caddyfile', () => {
  const compose = parseYaml(read('docker-compose.yml')) as {
    services: Record<
      string,
      { ports?: string[]; environment?: Record<string, string>; volumes?: string[]; networks?: string[]; build?: string; stop_grace_period?: string }
    >;
    networks: Record<string, { internal?: boolean }>;
  };
  const app = compose.services['wallet-oidc']!;
  const caddy = compose.services.caddy!;
  const caddyfileMount = caddy.volumes!.map((v) => v.split(':')).find(([, target]) => target === '/etc/caddy/Caddyfile');
  const caddyfile = read(caddyfileMount![0]!);

  it('publishes only the proxy: the app and Postgres have no ports', () => {
    assert.equal(app.ports, undefined);
    assert.equal(compose.services.postgres!.ports, undefined);
    assert.deepEqual(
      caddy.ports!.map((p) => p.split(':').at(-1)),
      ['443', '80'],
    );
    assert.deepEqual(compose.networks.db, { internal: true }, 'Postgres has no route out');
    assert.ok(!compose.services.postgres!.networks!.some((n) => caddy.networks!.includes(n)), 'Caddy cannot reach Postgres');
  });

  it('sets only known variables, and with the secrets given they pass the production rules', () => {
    assert.deepEqual(unknownVariables(Object.keys(app.environment!)), []);
    const env = Object.fromEntries(Object.entries(app.environment!).map(([k, v]) => [k, interpolate(v, SECRETS)]));
    const config = loadConfig(env);
    assert.equal(config.production, true);
    assert.equal(config.proxyHops, 1, 'exactly one trusted proxy hop');
    assert.equal(config.issuer.href, 'https://localhost/', 'the default issuer is https://localhost, what Caddy serves');
    assert.throws(() => interpolate(app.environment!.ENCRYPTION_KEY!, {}), /ENCRYPTION_KEY is required/, 'compose refuses to start without the secrets');
    const grace = /^(\d+)s$/.exec(app.stop_grace_period ?? '10s')![1]!;
    assert.ok(config.shutdown.timeoutSeconds < Number(grace), `docker stop's ${grace} s cut the ${config.shutdown.timeoutSeconds} s drain short`);
  });

  it('proxies the site ISSUER names to the port the app listens on', () => {
    const [, upstreamHost, upstreamPort] = /^\s*reverse_proxy (\S+):(\d+)\b/m.exec(caddyfile)!;
    assert.equal(upstreamHost, 'wallet-oidc');
    assert.equal(upstreamPort, app.environment!.PORT);
    assert.match(caddyfile, /^\s*health_uri \/readyz$/m);
    // The site address is PUBLIC_HOST, the host compose puts in ISSUER, on the port compose publishes as HTTPS_PORT.
    assert.match(caddyfile, /^\{\$PUBLIC_HOST\} \{$/m);
    assert.equal(caddy.environment!.PUBLIC_HOST, '${PUBLIC_HOST:-localhost}');
    assert.equal(app.environment!.ISSUER, 'https://${PUBLIC_HOST:-localhost}:${HTTPS_PORT:-443}');
    assert.ok(caddy.ports!.includes('${HTTPS_PORT:-443}:443'));
    const custom = loadConfig({
      ...SECRETS,
      ...Object.fromEntries(
        Object.entries(app.environment!).map(([k, v]) => [k, interpolate(v, { ...SECRETS, PUBLIC_HOST: 'id.example.com', HTTPS_PORT: '8443' })]),
      ),
    });
    assert.equal(custom.issuer.host, 'id.example.com:8443');
  });

  // Debian's caddy (what .ci/run installs) parses the file as the image's Caddy would, for a local and a public name.
  const caddyMissing = spawnSync('caddy', ['version']).error;
  it(
    'is a configuration Caddy itself accepts',
    { skip: caddyMissing && process.env.CI !== 'true' ? 'caddy is not installed (apt-get install caddy)' : false },
    () => {
      assert.ok(!caddyMissing, 'under CI=true the Caddyfile must be validated: install caddy');
      for (const host of ['localhost', 'id.example.com']) {
        const res = spawnSync('caddy', ['validate', '--config', path.join(ROOT, caddyfileMount![0]!), '--adapter', 'caddyfile'], {
          env: { ...process.env, PUBLIC_HOST: host },
          encoding: 'utf8',
        });
        assert.equal(res.status, 0, `${host}: ${res.stderr}`);
        assert.match(res.stdout + res.stderr, /Valid configuration/);
      }
    },
  );
});
