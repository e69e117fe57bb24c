# Glean in a container: the same install as the README (`make install`), then `glean serve`.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .
RUN make install

# The data folder (SQLite store, PDF cache, indexes, mail outbox) lives on a volume.
ENV GLEAN_HOME=/data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD .venv/bin/python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

CMD [".venv/bin/glean", "serve", "--host", "0.0.0.0", "--port", "8000"]
