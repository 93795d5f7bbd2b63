# The operator, the billing daemon, the audit trail's tool and the kubectl plugin as
# static binaries on a minimal, non-root image (not buildable on the dev machine: no
# Docker engine). The chart runs each with `command:`; the entrypoint is the operator.
# Build: docker build -t akp:dev .
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p akp-operator --bin akp-operator \
        -p akp-billing --bin akp-billing \
        -p akp-audit --bin akp-audit \
        -p kubectl-pbo --bin kubectl-pbo

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/akp-operator \
     /src/target/x86_64-unknown-linux-musl/release/akp-billing \
     /src/target/x86_64-unknown-linux-musl/release/akp-audit \
     /src/target/x86_64-unknown-linux-musl/release/kubectl-pbo \
     /usr/local/bin/
# 65532 = distroless "nonroot"; the chart's securityContext runs as the same ids.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/akp-operator"]
