# syntax=docker/dockerfile:1
#
# rolegate, the GraphQL authorization gateway, as a container image.
#
#   docker build -t rolegate .
#   docker run --rm -p 4000:4000 -e ROLEGATE_ENV=development rolegate   # embedded store, dev tokens
#   docker compose up --build          # with PostgreSQL, Redis and the migrations (docker-compose.yml)
#
# Without DATABASE_URL the gateway keeps its data in the embedded store (PGlite) in /app/data: mount a
# volume there to keep it (`-v rolegate-data:/app/data`). Other commands run the same way, for example
# `docker run --rm -e DATABASE_URL=… rolegate node bin/rolegate.js migrate`.
#
# Install scripts: every `npm ci` here runs with --ignore-scripts. rolegate needs none: its store
# drivers are pure JavaScript (pg) and WebAssembly (@electric-sql/pglite), and the only dependencies
# that ship scripts are dev tools (@swc/core, esbuild, @parcel/watcher) or an optional warning
# (@apollo/protobufjs). It also makes the build the same whichever npm the base image carries: npm 10
# runs install scripts, npm 11 blocks them until they are approved.
#
# Base: Node 26, the Active LTS line (LTS from 2026-10-28, maintenance from 2027-10-20, end of life
# 2029-04-30), on Debian 13 "trixie" (slim), supported past that date. The code itself runs on Node >= 20.19
# (package.json "engines"); test/deploy/image.test.ts runs this file's install and build steps, on the Node
# that runs the tests.

# --- build: every dependency, and TypeScript compiled to dist/ ------------------------------------------
FROM node:26-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# schema/ (the GraphQL SDL) is copied to the runtime stage below; the empty folder keeps that COPY valid
# in a checkout that has none yet.
RUN npm run build && mkdir -p schema

# --- runtime: production dependencies, the compiled code and the files it reads at run time ------------
FROM node:26-trixie-slim AS runtime
# ROLEGATE_ENV defaults to production here, so that an image started without configuration refuses to
# run without a real token key (ROLEGATE_JWKS_URL or ROLEGATE_JWT_PUBLIC_KEY, with ROLEGATE_JWT_ISSUER and
# ROLEGATE_JWT_AUDIENCE) rather than accept development tokens; docker-compose.yml sets development.
ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0 \
    ROLEGATE_ENV=production \
    ROLEGATE_DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# The code and its data files belong to root and are read-only for the app; only the data folder of
# the embedded store is the app's to write. catalogs/ and migrations/ are found from dist/ as
# ../catalogs and ../migrations.
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/catalogs ./catalogs
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/schema ./schema
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 4000
# Liveness through the app's own /healthz, with node itself (slim images have no curl or wget).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/rolegate.js", "serve"]
