# syntax=docker/dockerfile:1
# One image for every Skylane service; compose.yaml and deploy/kubernetes/ pick the service with the command.
#
# Two stages: `build` turns the project and its dependencies into wheels; `runtime` installs only those
# wheels, so the image carries what `skylane` imports at run time (with the `tracing` extra for OTLP
# export) and nothing else: no grpcio-tools, no pip cache, no tests. The build fails if grpc_tools sneaks in.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY skylane ./skylane
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[tracing]"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 skylane \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin skylane
WORKDIR /app
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels "skylane[tracing]" \
    && pip check \
    && ! python -c "import grpc_tools" 2>/dev/null
# The default config; deployments mount their own over /app/config (compose: ./config; Kubernetes: a ConfigMap).
COPY config ./config
RUN mkdir -p /app/var && chown skylane /app/var
USER 10001:10001
# gRPC 50051-50053 and metrics 9151-9153 (router, growth, rewards).
EXPOSE 50051 50052 50053 9151 9152 9153
STOPSIGNAL SIGTERM
ENTRYPOINT ["skylane"]
CMD ["serve", "all", "--host", "0.0.0.0"]
