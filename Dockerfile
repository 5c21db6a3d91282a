# heartbeat-operator image.
#
#   DOCKER_BUILDKIT=0 docker build --network host -t heartbeat-operator:0.1.0 .
#
# The build stage installs what CI installs to build (hack/install-deps.sh --build: the
# toolchain and libraries, not the test tools) and builds the executable with CI's cmake and
# ninja invocation (hack/test.sh) minus the tests. The runtime
# stage holds the executable and the shared libraries it links against, nothing else; it runs
# as an unprivileged numeric user and needs no shell. hack/chart/check-dockerfile.sh checks
# both stages against the real build, and hack/test-image.sh builds the image and runs it.
#
# Nothing here needs BuildKit: the classic builder (DOCKER_BUILDKIT=0) builds it as it is.
# CCACHE_REMOTE_STORAGE optionally names a ccache remote storage for the compile step, e.g.
# --build-arg CCACHE_REMOTE_STORAGE=http://127.0.0.1:PORT/ccache with --network host and
# hack/image/ccache-http-server.py listening there; empty (the default), nothing is shared
# and the compile starts cold.

FROM debian:bookworm AS build
COPY hack/install-deps.sh /src/hack/install-deps.sh
RUN /src/hack/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# ccache reads CCACHE_REMOTE_STORAGE from the environment; its local cache goes with the step.
ARG CCACHE_REMOTE_STORAGE=
ENV CCACHE_DIR=/tmp/ccache
RUN cmake -S /src -B /src/build -G Ninja -DHB_WERROR=ON -DHB_BUILD_TESTS=OFF -DSANITIZE= \
 && ninja -C /src/build heartbeat-operator \
 && objcopy --strip-debug /src/build/controller/heartbeat-operator /heartbeat-operator \
 && rm -rf /tmp/ccache

FROM debian:bookworm-slim
# Runtime libraries of the executable: the Debian packages of the libraries `ldd` lists
# (libc6, libstdc++6 and libgcc-s1 are in the base image).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libabsl20220623 \
      libbrotli1 \
      libc-ares2 \
      libcivetweb1 \
      libcom-err2 \
      libcpprest2.10 \
      libcurl4 \
      libffi8 \
      libgmp10 \
      libgnutls30 \
      libgrpc++1.51 \
      libgrpc29 \
      libgssapi-krb5-2 \
      libhogweed6 \
      libidn2-0 \
      libk5crypto3 \
      libkeyutils1 \
      libkrb5-3 \
      libkrb5support0 \
      libldap-2.5-0 \
      libnettle8 \
      libnghttp2-14 \
      libp11-kit0 \
      libprometheus-cpp-core1.0 \
      libprotobuf32 \
      libpsl5 \
      libre2-9 \
      librtmp1 \
      libsasl2-2 \
      libssh2-1 \
      libssl3 \
      libtasn1-6 \
      libunistring2 \
      libyaml-cpp0.7 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /heartbeat-operator /usr/local/bin/heartbeat-operator
# Fails the build when a shared library is missing.
RUN ["/usr/local/bin/heartbeat-operator", "--version"]
USER 65532:65532
LABEL org.opencontainers.image.title="heartbeat-operator" \
      org.opencontainers.image.description="Keeps Service-type capabilities visibly alive in etcd (Kubernetes operator and standalone heartbeat)"
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/heartbeat-operator"]
CMD ["controller"]
