# syntax=docker/dockerfile:1

# Build a static binary. The builder runs on the build machine's platform and
# cross-compiles, so multi-platform builds (docker buildx --platform) need no
# emulation.
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/callout ./cmd/callout

# The data directory, owned by the runtime user: distroless has no shell to
# create it, and a new volume takes this ownership from the image.
RUN mkdir -p /out/data && chmod 0700 /out/data

# Run as the distroless non-root user (65532), with CA certificates for
# https webhooks and Auth0, and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/callout /callout
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV CALLOUT_LISTEN=0.0.0.0:8080 \
    CALLOUT_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/callout"]
CMD ["serve"]
