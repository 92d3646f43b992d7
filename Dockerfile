# One image for the API, the worker and the migration job; docker-compose.yml picks the command.
# Build: the whole toolchain compiles the TypeScript and pre-bundles the workflow code.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY lib ./lib
COPY domain ./domain
COPY application ./application
COPY db ./db
COPY api ./api
COPY workers ./workers
COPY workflows ./workflows
COPY activities ./activities
COPY temporal ./temporal
COPY scripts/bundle-workflows.ts scripts/operator.ts ./scripts/
RUN npm run build

# Runtime dependencies only: no tsx, no test servers, no embedded PostgreSQL.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
USER node
# 3000: the public API. 3001: the operator listener, to be published on an internal network or loopback only.
EXPOSE 3000 3001
# The API's liveness; docker-compose.yml overrides it for the worker (which has no HTTP port).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/api/server.js"]
