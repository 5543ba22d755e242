# syntax=docker/dockerfile:1
# The order-saga app image: every process role (api, workers, relay, consumers) and the
# migrate/seed one-shot run from it; docker-compose.yml sets the command per service, e.g.
#   npx tsx app/main.ts worker-orders
# Node 20 like the native setup (package.json engines); pinned to a patch release.
FROM node:20.20.2-bookworm-slim

WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Dependencies first, so source edits don't reinstall them. Dev dependencies are needed:
# the Prisma CLI generates the client below.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
# The Prisma client (generated/, git- and docker-ignored) is generated for this image.
RUN npx tsx scripts/prisma-generate.ts --force

# Listen on all interfaces inside the container; compose publishes the ports.
ENV NODE_ENV=production \
    API_HOST=0.0.0.0

USER node
EXPOSE 3000 9401 9402 9403 9404 9405 9406 9407
CMD ["npx", "tsx", "app/main.ts", "api"]
