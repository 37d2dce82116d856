using Vireo.Messaging;
using Microsoft.Extensions.Logging.Abstractions;
using Vireo.Grains.Workers;

namespace Vireo.Grains.Tests;

public sealed class InferenceBatcherTests
{
    [Fact]
    public async Task RequestsFromManyCallersShareBatchesAndKeepTheirOwnResults()
    {
        var sizes = new List<int>();
        await using var batcher = new InferenceBatcher<int, int>(PipelineStage.Vision, new BatchingLimits(8, TimeSpan.FromMilliseconds(200), 64),
            batch => { lock (sizes) sizes.Add(batch.Count); return batch.Select(x => x * 10).ToArray(); }, NullLogger.Instance);
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => batcher.SubmitAsync(i)));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => i * 10), results);
        Assert.All(sizes, s => Assert.InRange(s, 1, 8));
        Assert.True(sizes.Count < 32, $"expected batching, got {sizes.Count} batches for 32 requests");
    }

    [Fact]
    public async Task AFullQueueMakesCallersWaitInsteadOfGrowing()
    {
        using var release = new ManualResetEventSlim(false);
        await using var batcher = new InferenceBatcher<int, int>(PipelineStage.Vision, new BatchingLimits(1, TimeSpan.Zero, 2),
            batch => { release.Wait(); return batch.ToArray(); }, NullLogger.Instance);
        var first = batcher.SubmitAsync(0);
        await Vireo.Testing.Eventually.WaitAsync(() => Task.FromResult(batcher.Queued), q => q == 0, TimeSpan.FromSeconds(10), "the first request taken");
        var queued = new[] { batcher.SubmitAsync(1), batcher.SubmitAsync(2) };
        var blocked = batcher.SubmitAsync(3);
        await Vireo.Testing.Eventually.WaitAsync(() => Task.FromResult(batcher.Queued), q => q == 2, TimeSpan.FromSeconds(10), "the queue full");
        Assert.False(blocked.IsCompleted);
        Assert.Equal(2, batcher.Queued);
        release.Set();
        var all = await Task.WhenAll(new[] { first, queued[0], queued[1], blocked });
        Assert.Equal(new[] { 0, 1, 2, 3 }, all);
    }

    [Fact]
    public async Task ARequestWhoseCallerGaveUpWhileItWaitedIsNeverComputed()
    {
        using var release = new ManualResetEventSlim(false);
        var computed = new List<int>();
        await using var batcher = new InferenceBatcher<int, int>(PipelineStage.Vision, new BatchingLimits(1, TimeSpan.Zero, 8),
            batch => { release.Wait(); lock (computed) computed.AddRange(batch); return batch.ToArray(); }, NullLogger.Instance);
        var first = batcher.SubmitAsync(0);
        await Vireo.Testing.Eventually.WaitAsync(() => Task.FromResult(batcher.Queued), q => q == 0, TimeSpan.FromSeconds(10), "the first request taken");
        using var caller = new CancellationTokenSource();
        var abandoned = batcher.SubmitAsync(1, caller.Token);
        var kept = batcher.SubmitAsync(2);

        // The caller's grain call timed out: its wait ends at once, and the model never sees its request.
        await caller.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        release.Set();
        var results = await Task.WhenAll(first, kept);
        Assert.Equal(new[] { 0, 2 }, results);
        Assert.Equal(new[] { 0, 2 }, computed);
        Assert.Equal(1, batcher.Dropped);
    }

    [Fact]
    public async Task AFailingBatchFailsItsCallersAndTheNextBatchRuns()
    {
        var calls = 0;
        await using var batcher = new InferenceBatcher<int, int>(PipelineStage.Vision, new BatchingLimits(4, TimeSpan.Zero, 8),
            batch => Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("boom") : batch.ToArray(), NullLogger.Instance);
        await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.SubmitAsync(1));
        Assert.Equal(2, await batcher.SubmitAsync(2));
    }
}
