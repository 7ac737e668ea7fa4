# syntax=docker/dockerfile:1.7
# The pipecd-ts piped agent (one per cluster). Build from the repository root:
#   docker build -f deploy/docker/piped.Dockerfile -t ghcr.io/pipecd-ts/piped:0.1.0 .
# Runs as a non-root user with a read-only root filesystem: git mirrors and worktrees go to
# /var/lib/piped (a volume; also $HOME for git), scratch to /tmp. Needs no native modules.

ARG NODE_IMAGE=node:20.20-bookworm-slim

# --- build: install the workspace, bundle the agent --------------------------------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm install -g -E pnpm@12.4.2
WORKDIR /src
COPY . .
ENV npm_config_nodedir=/usr/local CI=true
RUN pnpm install --frozen-lockfile
RUN node scripts/build-bundles.mjs --out /out piped

# --- runtime: node + git (+ ssh for git@ remotes) ------------------------------------------------
FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 piped \
 && useradd --system --uid 10001 --gid piped --home-dir /var/lib/piped --shell /usr/sbin/nologin piped \
 && mkdir -p /var/lib/piped \
 && chown piped:piped /var/lib/piped
WORKDIR /app
COPY --from=build /out/piped/ /app/
ENV NODE_ENV=production HOME=/var/lib/piped
USER 10001:10001
VOLUME ["/var/lib/piped"]
# The piped serves nothing (it only dials out): healthy while its process runs and git works.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["sh", "-c", "kill -0 1 && git --version >/dev/null"]
ENTRYPOINT ["node", "--enable-source-maps", "/app/main.mjs"]
CMD ["--config=/etc/piped/piped-config.yaml", "--work-dir=/var/lib/piped"]
