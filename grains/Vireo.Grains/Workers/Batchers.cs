using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Vireo.Messaging;

namespace Vireo.Grains.Workers;

/// <summary>This silo's batching of vision requests across videos.</summary>
public sealed class VisionBatcher(IVisionEngine engine, IOptions<WorkerOptions> options, ILogger<VisionBatcher> logger) : IAsyncDisposable
{
    private readonly InferenceBatcher<FrameRequest, VisionResult> _batcher =
        new(PipelineStage.Vision, options.Value.VisionLimits, engine.Encode, logger);

    public Task<VisionResult> SubmitAsync(FrameRequest request, CancellationToken cancellationToken) => _batcher.SubmitAsync(request, cancellationToken);

    public ValueTask DisposeAsync() => _batcher.DisposeAsync();
}

/// <summary>This silo's batching of language requests across videos.</summary>
public sealed class LanguageBatcher(ILanguageEngine engine, IOptions<WorkerOptions> options, ILogger<LanguageBatcher> logger) : IAsyncDisposable
{
    private readonly InferenceBatcher<LanguageRequest, LanguageResult> _batcher =
        new(PipelineStage.Language, options.Value.LanguageLimits, engine.Generate, logger);

    public Task<LanguageResult> SubmitAsync(LanguageRequest request, CancellationToken cancellationToken) => _batcher.SubmitAsync(request, cancellationToken);

    public ValueTask DisposeAsync() => _batcher.DisposeAsync();
}
