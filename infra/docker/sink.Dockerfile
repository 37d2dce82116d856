# syntax=docker/dockerfile:1
# The Kafka-to-Postgres sink.
#   docker build -f infra/docker/sink.Dockerfile -t vireo/sink:0.1.0 .
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0.12-noble

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/Vireo.Sink/Vireo.Sink.csproj -c Release -o /app

FROM ${RUNTIME_IMAGE}
# libsasl2-2 lets Confluent.Kafka load its glibc build of librdkafka.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app .
ENV Http__Address=0.0.0.0 \
    Http__Port=8080
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "Vireo.Sink.dll"]
