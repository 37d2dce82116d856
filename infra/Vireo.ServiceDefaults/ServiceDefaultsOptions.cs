using System.ComponentModel.DataAnnotations;

namespace Vireo.ServiceDefaults;

/// <summary>Where a process serves its health and metrics endpoints (section "Http").</summary>
public sealed class HttpEndpointOptions
{
    public const string Section = "Http";

    /// <summary>Address to listen on: loopback on a developer's machine, 0.0.0.0 in a pod that is probed from outside.</summary>
    [Required]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="UrlFile"/>).</summary>
    [Range(0, 65535)]
    public int Port { get; set; }

    /// <summary>A file that receives the base URL once the server listens, for scripts that started the process.</summary>
    public string? UrlFile { get; set; }
}

/// <summary>Where traces, metrics and logs go (section "Telemetry").</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>service.name of every span and metric; OTEL_SERVICE_NAME, else the program's name, when unset.</summary>
    public string? ServiceName { get; set; }

    /// <summary>OTLP collector address; the standard OTEL_EXPORTER_OTLP_ENDPOINT variable is used when this is unset.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>grpc or http/protobuf, for <see cref="OtlpEndpoint"/>.</summary>
    [RegularExpression("^(grpc|http/protobuf)$")]
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>A file that receives every finished span as one JSON line (for tests and local debugging).</summary>
    public string? TraceFile { get; set; }

    /// <summary>Console log format: json (one object a line, with trace and span ids) or text (one line for humans).</summary>
    [RegularExpression("^(json|text)$")]
    public string LogFormat { get; set; } = "json";
}
