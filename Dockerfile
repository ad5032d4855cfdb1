# syntax=docker/dockerfile:1
# portal-sync as an image, for examples/kubernetes-cronjob.yaml:
#   docker build -t registry.example.com/portal-sync:0.1.0 .
#   docker run --rm registry.example.com/portal-sync:0.1.0 --help
# No secret is baked in: connection strings, database URLs and AWS credentials come from the
# environment of each run (Kubernetes Secrets), never from a build argument or a file of the image.
# test/e2e/examples.test.ts checks what can be checked without Docker: every COPY source exists, the
# build produces what the last stage copies, and the last stage's layout runs the ENTRYPOINT.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. The TypeScript build. --ignore-scripts: `npm ci` would run the package's `prepare` script (the
#    build itself) before the sources are copied, and tsc needs no native module compiled.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# 2. Production dependencies alone. --ignore-scripts again, for `prepare`: it runs tsc, which
#    --omit=dev does not install. That also skips better-sqlite3's install script, so its native
#    module is built next with the package's own script: from source (python3, make, g++), against
#    this image's Node and glibc, with the headers the Node image ships in /usr/local (nothing
#    downloaded: no headers, no prebuilt binary).
FROM ${NODE_IMAGE} AS prod-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm --prefix node_modules/better-sqlite3 run build-release -- --nodedir=/usr/local

# 3. What runs: Node, the production node_modules, the built CLI and the migrations. The CLI finds
#    migrations/ and package.json by walking up from dist/src/, so they keep the repository's layout.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
# The image's `node` user, by number: Kubernetes can only verify runAsNonRoot for a numeric USER.
# Files stay root's: the process can read its code, not rewrite it.
USER 1000:1000
# Node runs as PID 1: the CLI handles SIGTERM and SIGINT itself (the pass stops at its next safe
# point, exit 143/130), which is all a one-shot job needs from an init process.
ENTRYPOINT ["node", "/app/bin/portal-sync"]
CMD ["--help"]
