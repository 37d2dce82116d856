using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Vireo.Messaging;

namespace Vireo.ServiceDefaults;

/// <summary>
/// What every Vireo process shares: OpenTelemetry traces and metrics, console logs with trace ids, health checks,
/// and the HTTP port that serves /healthz, /readyz and /metrics.
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";
    public const string MetricsPath = "/metrics";

    /// <summary>The ActivitySource of grain calls, which Orleans starts only where activity propagation is on.</summary>
    private const string OrleansApplicationSource = "Microsoft.Orleans.Application";

    /// <summary>Telemetry, logging, health checks and the HTTP listener, configured from "Telemetry" and "Http".</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        var telemetry = builder.BindValidated<TelemetryOptions>(TelemetryOptions.Section);
        var http = builder.BindValidated<HttpEndpointOptions>(HttpEndpointOptions.Section);
        builder.ConfigureLogging(telemetry);
        builder.ConfigureOpenTelemetry(telemetry);
        builder.AddDefaultHealthChecks();
        builder.ConfigureHttpEndpoint(http);
        return builder;
    }

    /// <summary>Serves /healthz (liveness), /readyz (readiness, with each check's state as JSON) and /metrics (Prometheus).</summary>
    public static IEndpointRouteBuilder MapDefaultEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(HealthTags.Live), ResponseWriter = WriteReportAsync });
        app.MapHealthChecks(ReadinessPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(HealthTags.Ready), ResponseWriter = WriteReportAsync });
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        return app;
    }

    private static void ConfigureLogging(this IHostApplicationBuilder builder, TelemetryOptions telemetry)
    {
        // Probes hit /readyz every few seconds; ASP.NET's per-request lines would bury the pipeline's own. Put first
        // among the sources, so that any configured level still wins.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = [new("Logging:LogLevel:Microsoft.AspNetCore", "Warning")],
        });
        builder.Logging.ClearProviders();
        // Puts the current trace and span ids in the scope of every log entry, so a line can be found from a trace.
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);
        if (telemetry.LogFormat == "text")
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        else
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                // Log lines are not embedded in HTML; escaping only what JSON requires keeps them readable.
                o.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }
    }

    private static void ConfigureOpenTelemetry(this IHostApplicationBuilder builder, TelemetryOptions telemetry)
    {
        var serviceName = telemetry.ServiceName
            ?? builder.Configuration["OTEL_SERVICE_NAME"]
            ?? Assembly.GetEntryAssembly()?.GetName().Name
            ?? builder.Environment.ApplicationName;
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
            .WithTracing(tracing =>
            {
                tracing.AddSource(Tracing.Source.Name, OrleansApplicationSource)
                    .AddHttpClientInstrumentation()
                    .AddNpgsql();
                if (!string.IsNullOrWhiteSpace(telemetry.TraceFile))
                    tracing.AddProcessor(new BatchActivityExportProcessor(new JsonLinesSpanExporter(telemetry.TraceFile), scheduledDelayMilliseconds: 1000));
            })
            .WithMetrics(metrics => metrics
                .AddMeter(VireoMetrics.MeterName, "Microsoft.Orleans")
                .AddRuntimeInstrumentation()
                .AddHttpClientInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter());

        if (!string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint))
            otel.UseOtlpExporter(telemetry.OtlpProtocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf, new Uri(telemetry.OtlpEndpoint));
        else if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.UseOtlpExporter();
    }

    private static void AddDefaultHealthChecks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddReadinessGate();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), tags: [HealthTags.Live])
            .AddCheck<ReadinessGateHealthCheck>("gate", tags: [HealthTags.Ready]);
    }

    private static void ConfigureHttpEndpoint(this IHostApplicationBuilder builder, HttpEndpointOptions http)
    {
        builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.Listen(IPAddress.Parse(http.Address), http.Port));
        if (!string.IsNullOrWhiteSpace(http.UrlFile))
            builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<UrlFileWriter>(sp, http.UrlFile));
    }

    /// <summary>
    /// Options a host needs while it is being set up (before the container exists): read and validated now, and
    /// registered too, so the values can be injected and are checked again at start.
    /// </summary>
    public static T BindValidated<T>(this IHostApplicationBuilder builder, string section) where T : class, new()
    {
        var options = builder.Configuration.GetSection(section).Get<T>() ?? new T();
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        builder.Services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
        return options;
    }

    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new Dictionary<string, object>
        {
            ["status"] = report.Status.ToString(),
            ["checks"] = report.Entries.ToDictionary(e => e.Key, e => new Dictionary<string, string?>
            {
                ["status"] = e.Value.Status.ToString(),
                ["description"] = e.Value.Description,
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
