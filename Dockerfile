# syntax=docker/dockerfile:1
# The order-saga app image: every process role (api, workers, relay, consumers, reconciler)
# and the migrate/seed one-shots run from it as compiled JavaScript; docker-compose.yml and
# deploy/ set the command per process, e.g.
#   node dist/app/main.js worker-orders
# Node 20 like the native setup (package.json engines); pinned to a patch release.

# ---------------------------------------------------------------- build: all dependencies
FROM node:20.20.2-bookworm-slim AS build

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Dependencies first, so source edits don't reinstall them.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
# Generates the Prisma client (generated/, git- and docker-ignored), compiles to dist/ and
# writes the workflow bundles (dist/workflow-bundle*.js), so workers never run webpack.
RUN npm run build

# ---------------------------------------------------------------- runtime: production only
FROM node:20.20.2-bookworm-slim AS runtime

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# The compiled app and bundles, and the SQL migrations scripts/migrate.js applies.
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma/migrations ./prisma/migrations

# Listen on all interfaces inside the container; compose publishes the ports.
ENV NODE_ENV=production \
    API_HOST=0.0.0.0

USER node
EXPOSE 3000 9401 9402 9403 9404 9405 9406 9407 9408
CMD ["node", "dist/app/main.js", "api"]
