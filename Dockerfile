# syntax=docker/dockerfile:1
# keyflowd image: builds Release on Debian 12 with the same package list as scripts/run
# and scripts/test (scripts/lib/packages), then runs the binary as a non-root user in a
# slim image holding only the libraries it links against.
#
#   docker build -t keyflow .
#   docker run --rm keyflow --help
# The role is the command: `docker run ... keyflow serve` (default), relay, deliver,
# schedule, migrate. compose.yaml runs them all against PostgreSQL and Kafka.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The whole list, PostgreSQL and test libraries included: one list to keep right. Only the
# build tools and libraries matter in this stage, and the stage is thrown away.
COPY scripts/lib/packages scripts/lib/install-deps /src/scripts/lib/
RUN bash /src/scripts/lib/install-deps && rm -rf /var/lib/apt/lists/*
COPY . /src
# The ccache cache survives between builds (BuildKit cache mount).
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKEYFLOW_BUILD_TESTS=OFF \
 && cmake --build /build --target keyflowd \
 && bash /src/scripts/lib/runtime-packages /build/keyflowd/keyflowd > /build/runtime-packages.txt

FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /build/runtime-packages.txt /tmp/runtime-packages.txt
# The packages holding keyflowd's shared libraries; curl for container health checks.
RUN apt-get update \
 && xargs apt-get install -y --no-install-recommends ca-certificates curl < /tmp/runtime-packages.txt \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin keyflow
COPY --from=build /build/keyflowd/keyflowd /usr/local/bin/keyflowd
USER keyflow:keyflow
# Inside a container the API must listen beyond loopback; publish the port selectively.
ENV KEYFLOW_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/keyflowd"]
CMD ["serve"]
