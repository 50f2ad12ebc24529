# Latchkey in a container: a static binary on distroless, run as nonroot.
#
#   docker build --build-arg VERSION=v1.2.3 -t latchkey .
#   docker run -p 8080:8080 -v latchkey-data:/data \
#     -e LATCHKEY_SYSTEM_SECRET=... -e LATCHKEY_ISSUER=https://auth.example.com latchkey
#
# The SQLite database lives in /data (a volume owned by the nonroot user,
# uid 65532); point LATCHKEY_DATABASE at PostgreSQL to run several nodes.
# Configuration: LATCHKEY_* variables, or a file mounted read-only and
# named with LATCHKEY_CONFIG. See docs/configuration.md and docs/upgrades.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Pure Go (modernc SQLite, pgx): no cgo, so the binary runs on a static base.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/latchkey ./cmd/latchkey \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/latchkey /latchkey
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
WORKDIR /data
ENV LATCHKEY_LISTEN=0.0.0.0:8080 \
    LATCHKEY_DATABASE=sqlite:/data/latchkey.db
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["/latchkey"]
CMD ["serve"]
