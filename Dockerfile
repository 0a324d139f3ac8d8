# The paychaos image for deploy/k8s/: the release binary on a slim Debian base.
# Build: docker build -t paychaos:dev .   (multi-stage; the build stage needs crates.io)
# This file is not built by the project's CI (no container engine runs there); the
# manifests that use the image are validated against the Kubernetes schemas instead.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin paychaos

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /work --create-home paychaos
COPY --from=build /src/target/release/paychaos /usr/local/bin/paychaos
USER 10001
WORKDIR /work
# Pods listen on and reach cluster addresses: the opt-in beyond loopback (README,
# "Running on Kubernetes").
ENV PAYCHAOS_NETWORK=cluster
ENTRYPOINT ["paychaos"]
CMD ["--help"]
