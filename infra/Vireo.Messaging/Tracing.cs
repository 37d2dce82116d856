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

    /// <summary>The trace context a record carries, or the default context when it carries none.</summary>
    public static ActivityContext ContextOf(Headers? headers)
    {
        ActivityContext context = default;
        if (headers is not null && headers.TryGetLastBytes(TraceParent, out var parentBytes))
        {
            string? state = headers.TryGetLastBytes(TraceState, out var stateBytes) ? Encoding.ASCII.GetString(stateBytes) : null;
            ActivityContext.TryParse(Encoding.ASCII.GetString(parentBytes), state, out context);
        }
        return context;
    }

    /// <summary>The traceparent header of a record, if any.</summary>
    public static string? TraceParentOf(Headers? headers) =>
        headers is not null && headers.TryGetLastBytes(TraceParent, out var bytes) ? Encoding.ASCII.GetString(bytes) : null;
}
