# edge in a container: one image, any node of a topology.
#   docker build -t edge .
#   docker run --network host -v /etc/edge:/etc/edge:ro -v /var/lib/edge:/var/lib/edge edge run /etc/edge/topology.toml --node origin
# See docs/deployment.md. The built-in plugins are the same binary.
FROM golang:1.26-trixie AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/edge ./cmd/edge

FROM debian:trixie-slim
RUN useradd --system --home-dir /var/lib/edge --create-home edge
COPY --from=build /out/edge /usr/local/bin/edge
USER edge
WORKDIR /var/lib/edge
VOLUME ["/var/lib/edge"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/edge"]
CMD ["run", "/etc/edge/topology.toml"]
