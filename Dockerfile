# wallet-oidc: production image. tsx (a runtime dependency) runs the TypeScript sources directly; there is no build step.
# oidc-provider v9 targets Node 22.
FROM node:22-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

WORKDIR /app

# Dependencies first, so source changes do not invalidate this layer.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

COPY tsconfig.json ./
COPY src ./src
COPY views ./views
COPY migrations ./migrations

# The embedded PGlite database (used only when DATABASE_URL is unset) lives in DATA_DIR=./data;
# everything else in /app stays owned by root and read-only to the app.
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown, 10 s at most).
CMD ["node", "--import", "tsx", "src/main.ts"]
