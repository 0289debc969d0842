# syntax=docker/dockerfile:1
# The tf container image: tf first on PATH as `terraform`, the real terraform (pinned, checksum-verified) after
# it, running as a non-root user. Built by goreleaser (dockers_v2 in .goreleaser.yaml), which puts the linux
# binaries it built in the build context as <os>/<arch>/tf, e.g. linux/amd64/tf.
#
#   docker run --rm -v "$PWD:/workspace" -e AWS_PROFILE -v "$HOME/.aws:/home/tf/.aws" ghcr.io/tfguard/tf:X.Y.Z plan
#
# To build it by hand from a clone (the binary first, in the same layout):
#   CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o linux/amd64/tf . && docker build --platform linux/amd64 .

ARG DEBIAN=debian:bookworm-slim

# Downloaded on the build machine's platform (no emulation); the zip is the target platform's.
FROM --platform=${BUILDPLATFORM} ${DEBIAN} AS terraform
ARG TARGETARCH
# terraform's version and the sha256 of HashiCorp's zip for each platform (terraform_<v>_SHA256SUMS on
# releases.hashicorp.com). Change all three together.
ARG TERRAFORM_VERSION=1.11.4
ARG TERRAFORM_SHA256_amd64=1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc
ARG TERRAFORM_SHA256_arm64=a43d1d0da9b9bab214a8305a39db0e40869572594ccf50c416a7756499143633
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    case "${TARGETARCH}" in \
      amd64) sum="${TERRAFORM_SHA256_amd64}" ;; \
      arm64) sum="${TERRAFORM_SHA256_arm64}" ;; \
      *) echo "no terraform checksum for ${TARGETARCH}" >&2; exit 1 ;; \
    esac; \
    zip="terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip"; \
    curl -fsSL --retry 3 -o "/tmp/${zip}" "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/${zip}"; \
    echo "${sum}  /tmp/${zip}" | sha256sum -c -; \
    mkdir -p /out; \
    unzip -q -d /out "/tmp/${zip}" terraform

FROM ${DEBIAN}
ARG TARGETPLATFORM
# git and ssh for module sources; ca-certificates for AWS and the registry.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --home-dir /home/tf --shell /usr/sbin/nologin tf \
 && mkdir -p /workspace && chown tf:tf /workspace
COPY --from=terraform /out/terraform /usr/local/bin/terraform
COPY ${TARGETPLATFORM}/tf /usr/local/bin/tf
# tf as `terraform` first on PATH, and as `tfguard` (the name no other tool uses); tf skips itself and runs
# /usr/local/bin/terraform.
RUN mkdir -p /usr/local/tfguard \
 && ln -s /usr/local/bin/tf /usr/local/tfguard/terraform \
 && ln -s /usr/local/bin/tf /usr/local/bin/tfguard
ENV PATH=/usr/local/tfguard:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CHECKPOINT_DISABLE=1
USER 10001:10001
WORKDIR /workspace
ENTRYPOINT ["terraform"]
CMD ["guard", "doctor"]
