# Muster's production image.
#
#   docker build -t muster:0.1.0 .
#   docker run -p 8000:8000 -e MUSTER_DATABASE_URL=postgresql+asyncpg://… muster:0.1.0
#   docker run --rm -e MUSTER_DATABASE_URL=… muster:0.1.0 migrate      # the migration job
#
# Stage 1 builds wheels of Muster and every dependency; stage 2 is a slim runtime
# that installs only those wheels: no compiler, no build tools, no source tree.
# Needs BuildKit (the default builder since Docker 23) for the RUN --mount below.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# The dependencies are exactly the hash-locked requirements.txt (setuptools, Muster's
# build backend, included); Muster's own wheel is built from those wheels alone.
COPY requirements.txt ./
RUN pip wheel --require-hashes --no-deps --wheel-dir /wheels --requirement requirements.txt
# setup.py copies alembic/ into the wheel (app/_alembic) so `muster migrate` works installed.
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY alembic ./alembic
COPY app ./app
RUN pip wheel --no-deps --no-index --find-links=/wheels --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    MUSTER_HOST=0.0.0.0 \
    MUSTER_PORT=8000 \
    MUSTER_WORKERS=1
RUN groupadd --system --gid 10001 muster \
    && useradd --system --uid 10001 --gid muster --home-dir /var/lib/muster \
        --no-create-home --shell /usr/sbin/nologin muster \
    && install --directory --owner=muster --group=muster --mode=0750 /var/lib/muster
# Only the wheels from stage 1 reach this image, and only through a bind mount. They are
# the only index, so every version is the locked one.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels muster
# The working directory is the only writable place the image offers (the default
# SQLite file lands here); in Kubernetes the root filesystem is read-only anyway.
WORKDIR /var/lib/muster
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MUSTER_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["muster"]
CMD ["serve"]
