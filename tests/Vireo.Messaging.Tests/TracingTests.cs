using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Vireo.Messaging.Tests;

public sealed class TracingTests
{
    private const string Parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    private static Headers With(params (string Name, byte[]? Value)[] headers)
    {
        var result = new Headers();
        foreach (var (name, value) in headers)
            result.Add(name, value);
        return result;
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    [Fact]
    public void ARecordsTraceContextIsContinued()
    {
        var context = Tracing.ContextOf(With(("traceparent", Ascii(Parent)), ("tracestate", Ascii("vireo=t61rcWkgMzE"))));

        Assert.Equal("0af7651916cd43dd8448eb211c80319c", context.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", context.SpanId.ToHexString());
        Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        Assert.Equal("vireo=t61rcWkgMzE", context.TraceState);
        Assert.Equal(Parent, Tracing.TraceParentOf(With(("traceparent", Ascii(Parent)))));
    }

    [Fact]
    public void HeadersWithoutAValueCountAsAbsent()
    {
        Assert.Equal(default, Tracing.ContextOf(With(("traceparent", null))));
        Assert.Null(Tracing.TraceParentOf(With(("traceparent", null))));
        Assert.Equal(default, Tracing.ContextOf(With(("traceparent", []))));

        var context = Tracing.ContextOf(With(("traceparent", Ascii(Parent)), ("tracestate", null)));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", context.TraceId.ToHexString());
        Assert.Null(context.TraceState);
    }

    [Fact]
    public void OversizedOrUnprintableHeadersAreDropped()
    {
        // A trace state that would make every record published under its trace (dead letters included) as large.
        var huge = Tracing.ContextOf(With(("traceparent", Ascii(Parent)), ("tracestate", Ascii("vireo=" + new string('a', 900_000)))));
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", huge.TraceId.ToHexString());
        Assert.Null(huge.TraceState);

        Assert.Equal(default, Tracing.ContextOf(With(("traceparent", Ascii(Parent + new string(' ', 300))))));
        Assert.Null(Tracing.TraceParentOf(With(("traceparent", [0x30, 0x30, 0x0a, 0xff]))));
        Assert.Equal(default, Tracing.ContextOf(With(("traceparent", Ascii("00-not-a-trace-01")))));
    }
}
