# syntax=docker/dockerfile:1
# One image for every Vigil role; the command picks the role:
#   docker run vigil api | worker [--only media,moderation] | dashboards | db upgrade | ...
# Build: docker build -t vigil:0.1.0 .   (docker-compose.yml builds and tags it the same way)

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg/ffprobe do the media work (probe, HLS ladder, thumbnails).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# torch first, pinned to the CPU wheel index: left to the resolver, the classifiers' dependencies
# would pull the CUDA build and several GB of GPU libraries this image never uses.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

# Install from a bind mount of the build context: the sources do not stay in a layer; the
# installed package (with its migrations) is all the image needs.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=bind,source=.,target=/src,rw \
    pip install /src

# An unprivileged user; its home is the data dir, /models the model files (a volume in compose).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/vigil vigil \
    && install -d -o vigil -g vigil /models

USER vigil
WORKDIR /var/lib/vigil

# Inside a container the servers must listen beyond loopback to be reachable at all.
ENV VIGIL_DATA_DIR=/var/lib/vigil \
    VIGIL_MODELS_DIR=/models \
    VIGIL_HTTP__HOST=0.0.0.0

EXPOSE 8000
ENTRYPOINT ["vigil"]
CMD ["api"]
