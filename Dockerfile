# The operator and the billing daemon as static binaries on a minimal, non-root image.
# Build: docker build -t akp:dev .   (run either binary: akp-operator or akp-billing)
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p akp-operator --bin akp-operator -p akp-billing --bin akp-billing

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/akp-operator /usr/local/bin/akp-operator
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/akp-billing /usr/local/bin/akp-billing
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/akp-operator"]
