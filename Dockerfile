# One image for the four services; docker-compose picks the entrypoint per service.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY libs ./libs
COPY services ./services
COPY infra/local/package.json ./infra/local/package.json
COPY infra/clickhouse/package.json ./infra/clickhouse/package.json
# Dev dependencies (test tools, the embedded chdb engine of the local stack) stay out of the image.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY infra/postgres ./infra/postgres
COPY infra/clickhouse/migrations ./infra/clickhouse/migrations
COPY tsconfig.json ./
USER node
CMD ["node", "--import", "tsx", "services/api/src/main.ts"]
