using Orleans.Concurrency;
using Vireo.Grains.Placement;

namespace Vireo.Grains.Workers;

/// <summary>Hands frames to this silo's vision batcher; reentrant so that many frames wait for one batch together.</summary>
[Reentrant, VisionPlacement]
public sealed class VisionWorkerGrain(VisionBatcher batcher) : Grain, IVisionWorker
{
    public Task<VisionResult> Encode(VisionRequest request) => batcher.SubmitAsync(request);
}

/// <summary>Hands visual tokens to this silo's language batcher.</summary>
[Reentrant, LanguagePlacement]
public sealed class LanguageWorkerGrain(LanguageBatcher batcher) : Grain, ILanguageWorker
{
    public Task<LanguageResult> Generate(LanguageRequest request) => batcher.SubmitAsync(request);
}
