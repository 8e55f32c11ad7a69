# syntax=docker/dockerfile:1
# Builds every Herald binary (herald, fanout, sender) into one small image.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins --workspace \
    && mkdir -p /out \
    && cp target/release/herald target/release/fanout target/release/sender /out/

FROM debian:bookworm-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin herald
COPY --from=build /out/ /usr/local/bin/
USER 10001
# Services bind 127.0.0.1 by default; in a container they must listen on every interface.
ENV HTTP_ADDR=0.0.0.0:8080 \
    RUST_LOG=info \
    LOG_FORMAT=json
EXPOSE 8080 9101 9102
ENTRYPOINT ["herald"]
CMD ["serve"]
