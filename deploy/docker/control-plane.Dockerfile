# syntax=docker/dockerfile:1.7
# The pipecd-ts control plane: REST API + web UI (:8080) and the gRPC PipedService (:9080).
# Build from the repository root:
#   docker build -f deploy/docker/control-plane.Dockerfile -t ghcr.io/pipecd-ts/control-plane:0.1.0 .
# Runs as a non-root user with a read-only root filesystem: state goes to /var/lib/pipecd (a
# volume: the SQLite database, the generated admin key) and scratch to /tmp.

ARG NODE_IMAGE=node:20.20-bookworm-slim

# --- build: install the workspace, bundle the server, build the web UI ---------------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm install -g -E pnpm@12.4.2
WORKDIR /src
COPY . .
# better-sqlite3 compiles against the image's Node headers (toolchain.md G4).
ENV npm_config_nodedir=/usr/local CI=true
RUN pnpm install --frozen-lockfile
RUN node scripts/build-bundles.mjs --out /out control-plane
# The one native module the bundle leaves external, installed beside it.
RUN cd /out/control-plane \
 && printf '{"name":"control-plane-runtime","private":true,"type":"module"}\n' > package.json \
 && npm install --omit=dev --no-audit --no-fund --no-save better-sqlite3@12.11.1
# The web UI (apps/web, Vite) as static files the server serves.
RUN pnpm --filter @pipecd-ts/web run build

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
RUN groupadd --system --gid 10001 pipecd \
 && useradd --system --uid 10001 --gid pipecd --home-dir /var/lib/pipecd --shell /usr/sbin/nologin pipecd \
 && mkdir -p /var/lib/pipecd \
 && chown pipecd:pipecd /var/lib/pipecd
WORKDIR /app
COPY --from=build /out/control-plane/ /app/
COPY --from=build /src/apps/web/dist/ /app/web/
ENV NODE_ENV=production
USER 10001:10001
VOLUME ["/var/lib/pipecd"]
EXPOSE 8080 9080
# Kubernetes uses the chart's probes; this is for plain docker/compose (HTTP listener).
HEALTHCHECK --interval=20s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--enable-source-maps", "/app/main.mjs", "--web-dir=/app/web"]
CMD ["--data-dir=/var/lib/pipecd"]
