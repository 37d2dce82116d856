# syntax=docker/dockerfile:1
# The `vireo` command line; the chart's migrations Job runs `vireo migrate` with ConnectionStrings__Postgres set.
#   docker build -f infra/docker/migrations.Dockerfile -t vireo/migrations:0.1.0 .
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime:10.0.12-noble

FROM ${SDK_IMAGE} AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/Vireo.Cli/Vireo.Cli.csproj -c Release -o /app

FROM ${RUNTIME_IMAGE}
WORKDIR /app
COPY --from=build /app .
USER $APP_UID
ENTRYPOINT ["dotnet", "vireo.dll"]
CMD ["migrate"]
