# One image for the API, the worker and the migration job; docker-compose.yml picks the command.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY lib ./lib
COPY domain ./domain
COPY application ./application
COPY db ./db
COPY api ./api
COPY workers ./workers
COPY workflows ./workflows
COPY activities ./activities
COPY temporal ./temporal
USER node
CMD ["node", "--import", "tsx", "api/server.ts"]
