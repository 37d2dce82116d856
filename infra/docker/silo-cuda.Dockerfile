# syntax=docker/dockerfile:1
# The Orleans silo for GPU nodes (vision and language roles): TorchSharp with the CUDA build of libtorch
# (-p:TorchBackend=cuda references TorchSharp-cuda-linux, whose libtorch brings its own CUDA libraries), on an
# NVIDIA CUDA base whose driver libraries the NVIDIA container toolkit mounts at run time.
#   docker build -f infra/docker/silo-cuda.Dockerfile -t vireo/silo-cuda:0.1.0 .
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG DOTNET_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0.12-noble
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/Vireo.Silo/Vireo.Silo.csproj -c Release -p:TorchBackend=cuda -o /app

FROM ${DOTNET_IMAGE} AS dotnet

FROM ${CUDA_IMAGE}
# What the ASP.NET runtime image has on top of Ubuntu, plus ffmpeg and libsasl2-2 as in the CPU image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3t64 libstdc++6 zlib1g tzdata ffmpeg libsasl2-2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1654 app \
    && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app
COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
WORKDIR /app
COPY --from=build /app .
ENV DOTNET_RUNNING_IN_CONTAINER=true \
    APP_UID=1654 \
    Http__Address=0.0.0.0 \
    Http__Port=8080 \
    Workers__Device=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
EXPOSE 8080 11111 30000
USER 1654
ENTRYPOINT ["dotnet", "Vireo.Silo.dll"]
