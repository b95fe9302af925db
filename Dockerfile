# wallet-oidc: production image. The build stage compiles the TypeScript (`npm run build`); the runtime stage holds
# the compiled JavaScript and the production dependencies only: no compiler and no TypeScript loader at run time.
# Node 22 is an LTS release that oidc-provider v9 supports (see docs/operations.md#node-versions).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts, as in development (npm 11): the optional libsecp256k1 binding ships prebuilt.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY migrations ./migrations
COPY views ./views
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app

# Dependencies first, so source changes do not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# dist/ holds src/ and migrations/ compiled, the views, and a package.json marking them as ES modules.
COPY --from=build /app/dist ./dist

# The embedded PGlite database (development only: production requires DATABASE_URL) lives in DATA_DIR=./data;
# everything else in /app stays owned by root and read-only to the app.
RUN mkdir -p /app/data && chown 1000:1000 /app/data

# The image's `node` user, by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown, 10 s at most).
# The CLI in the same image: `node dist/src/cli/index.js <command>`.
CMD ["node", "dist/src/main.js"]
