using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Vireo.Messaging.Tests;

public sealed class OperationsSupportTests
{
    [Fact]
    public async Task TheRetryPipelineRetriesWhatItShouldWithGrowingDelaysAndStopsOnOtherFailures()
    {
        var delays = new List<TimeSpan>();
        var pipeline = RetryPipelines.Create(new RetrySettings { DelayMs = 1, MaxDelayMs = 4, UseJitter = false }, e => e is TimeoutException,
            args => { delays.Add(args.RetryDelay); return ValueTask.CompletedTask; });

        var calls = 0;
        await pipeline.ExecuteAsync(_ => ++calls < 5 ? throw new TimeoutException() : ValueTask.CompletedTask);
        Assert.Equal(5, calls);
        Assert.Equal([1, 2, 4, 4], delays.Select(d => d.TotalMilliseconds));

        calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pipeline.ExecuteAsync(_ => { calls++; throw new InvalidOperationException(); }));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void ConsumerLagComesFromTheStatisticsOfAssignedPartitions()
    {
        using var listener = new MeterListener();
        var lag = new List<(long Value, string Partition)>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == VireoMetrics.MeterName && instrument.Name == "vireo.kafka.consumer.lag")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == "partition" && tags.ToArray().Any(t => t.Key == "group" && (string?)t.Value == "lag-test"))
                    lag.Add((value, (string)tag.Value!));
        });
        listener.Start();

        VireoMetrics.RecordConsumerStatistics("lag-test", """
            {"name": "lag-test-client#consumer-1", "topics": {"video.status": {"partitions": {
              "0": {"consumer_lag": 7}, "1": {"consumer_lag": -1}, "-1": {"consumer_lag": 0}}}}}
            """);
        listener.RecordObservableInstruments();
        Assert.Equal([(7L, "0")], lag);

        VireoMetrics.ForgetConsumer("lag-test-client#consumer-1");
        lag.Clear();
        listener.RecordObservableInstruments();
        Assert.Empty(lag);
    }

    [Fact]
    public void TheReadinessGateOpensOnceEveryDeclaredConditionIsMet()
    {
        using var services = new ServiceCollection().AddReadinessRequirement(ReadinessGate.Model).AddReadinessRequirement("cache").BuildServiceProvider();
        var gate = services.GetRequiredService<ReadinessGate>();

        Assert.Equal(["cache", "model"], gate.Pending);
        gate.Open(ReadinessGate.Model);
        gate.Open("cache");
        Assert.True(gate.IsOpen);
        gate.Close("cache");
        Assert.Equal(["cache"], gate.Pending);
    }
}
