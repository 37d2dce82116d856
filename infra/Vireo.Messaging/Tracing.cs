using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Vireo.Messaging;

/// <summary>W3C trace context carried in Kafka headers, so one video's work can be followed across processes.</summary>
public static class Tracing
{
    public static readonly ActivitySource Source = new("Vireo");

    private const string TraceParent = "traceparent";
    private const string TraceState = "tracestate";

    public static void Inject(Headers headers, Activity? activity)
    {
        if (activity is null || activity.IdFormat != ActivityIdFormat.W3C)
            return;
        headers.Add(TraceParent, Encoding.ASCII.GetBytes(activity.Id!));
        if (!string.IsNullOrEmpty(activity.TraceStateString))
            headers.Add(TraceState, Encoding.ASCII.GetBytes(activity.TraceStateString));
    }

    /// <summary>Starts a consumer activity whose parent is the trace context of the record, when it has one.</summary>
    public static Activity? StartConsume(string name, Headers? headers) =>
        Source.StartActivity(name, ActivityKind.Consumer, ContextOf(headers));

    /// <summary>
    /// The trace context a record carries, or the default context when it carries none. A header without a value, or
    /// one too long or not printable ASCII, counts as absent: a record's headers come from whoever wrote it.
    /// </summary>
    public static ActivityContext ContextOf(Headers? headers)
    {
        if (HeaderText(headers, TraceParent, MaxTraceParentBytes) is not { } parent)
            return default;
        ActivityContext.TryParse(parent, HeaderText(headers, TraceState, MaxTraceStateBytes), out var context);
        return context;
    }

    /// <summary>The traceparent header of a record, if it has a usable one.</summary>
    public static string? TraceParentOf(Headers? headers) => HeaderText(headers, TraceParent, MaxTraceParentBytes);

    /// <summary>W3C's traceparent is 55 characters (version 00); tracestate is at most 32 members, kept to 512 here.</summary>
    private const int MaxTraceParentBytes = 256, MaxTraceStateBytes = 512;

    private static string? HeaderText(Headers? headers, string name, int maxBytes) =>
        headers is not null && headers.TryGetLastBytes(name, out var bytes)
            && bytes is { Length: > 0 } && bytes.Length <= maxBytes && bytes.All(b => b is >= 0x20 and < 0x7f)
            ? Encoding.ASCII.GetString(bytes)
            : null;
}
