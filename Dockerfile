# One image for every Skylane service; compose.yaml picks the service with the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY skylane ./skylane
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system skylane && mkdir -p /app/var && chown skylane /app/var
USER skylane
ENTRYPOINT ["skylane"]
CMD ["serve", "all", "--host", "0.0.0.0"]
