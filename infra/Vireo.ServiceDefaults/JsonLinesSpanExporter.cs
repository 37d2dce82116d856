using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Resources;

namespace Vireo.ServiceDefaults;

/// <summary>
/// Appends every finished span to a file as one JSON object a line: trace id, span id, parent id, name, kind,
/// service name, start (UTC, ISO 8601), duration in milliseconds and tags. Meant for tests and for reading a
/// trace without a collector. It runs behind a batch processor, which calls it from one thread at a time, so the
/// threads that end spans never wait on the file.
/// </summary>
public sealed class JsonLinesSpanExporter : BaseExporter<Activity>
{
    private readonly FileStream _file;
    private string? _serviceName;

    public JsonLinesSpanExporter(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        // Shared read access lets a test read the file while the process still writes it.
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }

    public override ExportResult Export(in Batch<Activity> batch)
    {
        var service = _serviceName ??= ServiceName();
        foreach (var activity in batch)
        {
            using (var json = new Utf8JsonWriter(_file))
                Write(json, activity, service);
            _file.WriteByte((byte)'\n');
        }
        _file.Flush();
        return ExportResult.Success;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _file.Dispose();
        base.Dispose(disposing);
    }

    private string ServiceName()
    {
        var resource = ParentProvider?.GetResource();
        return resource?.Attributes.FirstOrDefault(a => a.Key == "service.name").Value?.ToString() ?? "unknown";
    }

    private static void Write(Utf8JsonWriter json, Activity activity, string service)
    {
        json.WriteStartObject();
        json.WriteString("traceId", activity.TraceId.ToHexString());
        json.WriteString("spanId", activity.SpanId.ToHexString());
        if (activity.ParentSpanId != default)
            json.WriteString("parentId", activity.ParentSpanId.ToHexString());
        json.WriteString("name", activity.DisplayName);
        json.WriteString("kind", activity.Kind.ToString());
        json.WriteString("service", service);
        json.WriteString("source", activity.Source.Name);
        json.WriteString("start", activity.StartTimeUtc.ToString("O", CultureInfo.InvariantCulture));
        json.WriteNumber("durationMs", activity.Duration.TotalMilliseconds);
        if (activity.Status != ActivityStatusCode.Unset)
            json.WriteString("status", activity.Status.ToString());
        json.WriteStartObject("tags");
        foreach (var tag in activity.TagObjects)
            json.WriteString(tag.Key, Convert.ToString(tag.Value, CultureInfo.InvariantCulture));
        json.WriteEndObject();
        if (activity.Links.Any())
        {
            json.WriteStartArray("links");
            foreach (var link in activity.Links)
                json.WriteStringValue(link.Context.TraceId.ToHexString() + "-" + link.Context.SpanId.ToHexString());
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }
}
