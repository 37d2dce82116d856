using Orleans.Concurrency;
using Vireo.Grains.Placement;

namespace Vireo.Grains.Workers;

/// <summary>
/// Hands frames to this silo's vision batcher, then sends each frame's visual tokens straight to a language worker:
/// they never travel back through the media silo. Reentrant, so that many frames wait for one batch together.
/// </summary>
[Reentrant, VisionPlacement]
public sealed class VisionWorkerGrain(VisionBatcher batcher, WorkerDirectory workers, ILocalSiloDetails silo) : Grain, IVisionWorker
{
    public async Task<FrameAnalysis> Analyze(FrameRequest request, CancellationToken cancellationToken)
    {
        var vision = await batcher.SubmitAsync(request, cancellationToken);
        var language = await GrainFactory.GetGrain<ILanguageWorker>(workers.Next(SiloRoles.Language))
            .Generate(new LanguageRequest(request.VideoId, request.FrameIndex, vision.Tiles.Select(t => t.Compressed).ToArray(), vision.VisualTokens, request.Question,
                request.TextThreshold, request.ShapeThreshold), cancellationToken);
        return new FrameAnalysis(vision.Tiles, vision.TokensBefore, vision.TokensAfter, vision.VisionMs, silo.Name, language, vision.Model);
    }
}

/// <summary>Hands visual tokens to this silo's language batcher.</summary>
[Reentrant, LanguagePlacement]
public sealed class LanguageWorkerGrain(LanguageBatcher batcher) : Grain, ILanguageWorker
{
    public Task<LanguageResult> Generate(LanguageRequest request, CancellationToken cancellationToken) => batcher.SubmitAsync(request, cancellationToken);
}
