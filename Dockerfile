# syntax=docker/dockerfile:1
# borderfusion: one image for every role (worker --role ingest|fusion|alerts|web|delivery|
# archive, gateway, simulate). Multi-stage: the build stage makes a self-contained virtualenv;
# the runtime stage copies only that venv onto python:3.11-slim and runs as an unprivileged user.
#
#   docker build -t borderfusion:dev .
#   docker run --rm borderfusion:dev --help

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# rocksdict backs BORDERFUSION_STORE=rocksdb:// (Faust's RocksDB table store); it ships wheels.
ARG EXTRA_PACKAGES="rocksdict"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/borderfusion
ENV PATH=/opt/borderfusion/bin:$PATH
WORKDIR /src
# Dependencies first so a code change does not rebuild the dependency layer.
COPY pyproject.toml README.md LICENSE ./
COPY fusion ./fusion
COPY sensors ./sensors
COPY streams ./streams
RUN pip install --upgrade pip setuptools wheel \
 && pip install . ${EXTRA_PACKAGES} \
 && borderfusion --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="borderfusion" \
      org.opencontainers.image.description="Stream-processing surveillance fusion for land and river borders" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/borderfusion/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BORDERFUSION_DATA_DIR=/var/lib/borderfusion \
    BORDERFUSION_SPOOL_DIR=/var/lib/borderfusion/spool \
    BORDERFUSION_WEB_HOST=0.0.0.0 \
    BORDERFUSION_WEB_PORT=6066 \
    BORDERFUSION_GATEWAY_HOST=0.0.0.0 \
    BORDERFUSION_GATEWAY_PORT=8088 \
    BORDERFUSION_SENSORS_FILE=/etc/borderfusion/config/sensors.yaml \
    BORDERFUSION_ZONES_FILE=/etc/borderfusion/config/zones.geojson \
    BORDERFUSION_RULES_FILE=/etc/borderfusion/config/rules.yaml
RUN groupadd --system --gid 10001 borderfusion \
 && useradd --system --uid 10001 --gid borderfusion --home-dir /var/lib/borderfusion \
      --shell /usr/sbin/nologin borderfusion \
 && mkdir -p /var/lib/borderfusion/spool /etc/borderfusion/config \
 && chown -R borderfusion:borderfusion /var/lib/borderfusion
COPY --from=build /opt/borderfusion /opt/borderfusion
# The example site (deploy/config); mount your own over /etc/borderfusion/config.
COPY deploy/config/ /etc/borderfusion/config/
WORKDIR /var/lib/borderfusion
USER 10001:10001
VOLUME ["/var/lib/borderfusion"]
EXPOSE 6066 8088
# Python one-liner (the slim image has no curl): healthy when the web server answers /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BORDERFUSION_WEB_PORT', '6066'), timeout=4).status == 200 else 1)"]
ENTRYPOINT ["borderfusion"]
CMD ["worker", "--role", "all"]
