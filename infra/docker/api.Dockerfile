# syntax=docker/dockerfile:1
# The results API.
#   docker build -f infra/docker/api.Dockerfile -t vireo/api:0.1.0 .
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0.12-noble

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/Vireo.Api/Vireo.Api.csproj -c Release -o /app

FROM ${RUNTIME_IMAGE}
# ffprobe (from ffmpeg) reads uploads and the start of URL sources; libsasl2-2 lets Confluent.Kafka load its glibc
# build of librdkafka.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV Http__Address=0.0.0.0 \
    Http__Port=8080
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "Vireo.Api.dll"]
