using Polly;
using Polly.Retry;

namespace Vireo.Messaging;

/// <summary>
/// How to retry an operation that fails for a passing reason (a database restarting, a silo going away): exponential
/// backoff from <see cref="DelayMs"/> up to <see cref="MaxDelayMs"/>, with jitter. Callers fill it from their own
/// validated options.
/// </summary>
public sealed class RetrySettings
{
    /// <summary>Delay before the first retry; it doubles with each attempt.</summary>
    public int DelayMs { get; set; } = 200;

    /// <summary>Longest delay between two attempts.</summary>
    public int MaxDelayMs { get; set; } = 10_000;

    /// <summary>Retries after the first attempt; 0 retries until the operation succeeds or is cancelled.</summary>
    public int MaxRetries { get; set; }

    /// <summary>Spreads the delays so that many callers failing together do not retry together.</summary>
    public bool UseJitter { get; set; } = true;
}

/// <summary>
/// The backoff of a consumer's work while what it writes to is unreachable: retried until that comes back or the
/// consumer stops, with the consumer still in its group (<see cref="ConsumerExtensions.RetryInGroupAsync{T}"/>).
/// </summary>
public abstract class ConsumerRetryOptions
{
    /// <summary>First delay before retrying failed work; doubles up to <see cref="MaxRetryDelayMs"/>.</summary>
    [System.ComponentModel.DataAnnotations.Range(10, 60_000)]
    public int RetryDelayMs { get; set; } = 250;

    /// <summary>Longest delay between two attempts.</summary>
    [System.ComponentModel.DataAnnotations.Range(10, 60_000)]
    public int MaxRetryDelayMs { get; set; } = 5_000;

    public RetrySettings Retry => new() { DelayMs = RetryDelayMs, MaxDelayMs = MaxRetryDelayMs };
}

/// <summary>Builds the Polly pipelines that every Vireo process retries with, so that backoff is written once.</summary>
public static class RetryPipelines
{
    /// <summary>
    /// A pipeline that retries failures for which <paramref name="shouldRetry"/> holds, with the settings' backoff;
    /// others, and cancellation of the caller's token, end it at once. <paramref name="onRetry"/> runs before each
    /// wait (to log, or to pause a consumer); state of one execution travels in its <see cref="ResilienceContext"/>.
    /// Build the pipeline once and reuse it: it holds no state of its own.
    /// </summary>
    public static ResiliencePipeline Create(RetrySettings settings, Func<Exception, bool> shouldRetry,
        Func<OnRetryArguments<object>, ValueTask>? onRetry = null, TimeProvider? timeProvider = null)
    {
        var retry = new RetryStrategyOptions
        {
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(settings.DelayMs),
            MaxDelay = TimeSpan.FromMilliseconds(Math.Max(settings.DelayMs, settings.MaxDelayMs)),
            MaxRetryAttempts = settings.MaxRetries == 0 ? int.MaxValue : settings.MaxRetries,
            UseJitter = settings.UseJitter,
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException && shouldRetry(e)),
        };
        if (onRetry is not null)
            retry.OnRetry = onRetry;
        var builder = new ResiliencePipelineBuilder().AddRetry(retry);
        if (timeProvider is not null)
            builder.TimeProvider = timeProvider;
        return builder.Build();
    }
}
