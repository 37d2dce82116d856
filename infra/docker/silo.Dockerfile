# syntax=docker/dockerfile:1
# The Orleans silo on CPU: media silos (FFmpeg decode) and, where no GPU is wanted, vision and language silos.
#   docker build -f infra/docker/silo.Dockerfile -t vireo/silo:0.1.0 .
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0.12-noble

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/Vireo.Silo/Vireo.Silo.csproj -c Release -o /app

FROM ${RUNTIME_IMAGE}
# ffmpeg decodes; libsasl2-2 lets Confluent.Kafka load its glibc build of librdkafka.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV Http__Address=0.0.0.0 \
    Http__Port=8080
EXPOSE 8080 11111 30000
USER $APP_UID
ENTRYPOINT ["dotnet", "Vireo.Silo.dll"]
