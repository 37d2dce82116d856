using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Vireo.Messaging;

namespace Vireo.Grains.Workers;

/// <summary>Limits of one silo's batching for a model stage.</summary>
public sealed record BatchingLimits(int MaxBatch, TimeSpan MaxWait, int QueueCapacity);

/// <summary>
/// Collects requests from every caller on this silo into batches (up to a size, or until a wait runs out) and runs
/// them on one dedicated thread, so the accelerator sees full batches and torch calls never interleave. The queue
/// is bounded: when the model falls behind, callers wait, and their upstream (decoding) slows down with them. A
/// request whose caller gave up (its token cancelled: a grain call timed out, a run stopped) while it waited is
/// dropped before it reaches a batch, so the model computes nothing that no one will read.
/// </summary>
public sealed class InferenceBatcher<TRequest, TResult> : IAsyncDisposable
{
    private readonly Channel<Pending> _queue;
    private readonly Func<IReadOnlyList<TRequest>, IReadOnlyList<TResult>> _run;
    private readonly BatchingLimits _limits;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly PipelineStage _stage;
    private readonly IDisposable _queueGauge;

    public InferenceBatcher(PipelineStage stage, BatchingLimits limits, Func<IReadOnlyList<TRequest>, IReadOnlyList<TResult>> run, ILogger logger)
    {
        _stage = stage;
        _limits = limits;
        _run = run;
        _logger = logger;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(limits.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        var name = stage.ToString().ToLowerInvariant();
        _queueGauge = VireoMetrics.ObserveQueue(name, () => _queue.Reader.Count);
        _thread = new Thread(Loop) { IsBackground = true, Name = $"vireo-{name}" };
        _thread.Start();
    }

    /// <summary>Requests waiting for a batch right now.</summary>
    public int Queued => _queue.Reader.Count;

    public async Task<TResult> SubmitAsync(TRequest request, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(request, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        return await pending.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Requests dropped because their caller gave up while they waited.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private long _dropped;

    private void Loop()
    {
        var batch = new List<Pending>(_limits.MaxBatch);
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            var deadline = DateTime.UtcNow + _limits.MaxWait;
            while (batch.Count < _limits.MaxBatch)
            {
                if (reader.TryRead(out var item))
                {
                    if (item.CallerGone.IsCancellationRequested)
                    {
                        item.Result.TrySetCanceled(item.CallerGone);
                        Interlocked.Increment(ref _dropped);
                        VireoMetrics.RecordDropped(_stage);
                    }
                    else
                        batch.Add(item);
                    continue;
                }
                var left = deadline - DateTime.UtcNow;
                if (batch.Count > 0 && left <= TimeSpan.Zero)
                    break;
                using var timeout = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
                try
                {
                    if (!reader.WaitToReadAsync(timeout.Token).AsTask().GetAwaiter().GetResult())
                        break;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            if (batch.Count == 0)
                continue;
            try
            {
                VireoMetrics.RecordBatch(_stage, batch.Count);
                var results = _run(batch.Select(p => p.Request).ToArray());
                for (var i = 0; i < batch.Count; i++)
                    batch[i].Result.TrySetResult(results[i]);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "A batch of {Count} failed", batch.Count);
                foreach (var p in batch)
                    p.Result.TrySetException(e);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _thread.Join(TimeSpan.FromSeconds(30));
        _queueGauge.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed record Pending(TRequest Request, TaskCompletionSource<TResult> Result, CancellationToken CallerGone);
}
