namespace Vireo.Grains.Workers;

/// <summary>The vision half of the model: tiles, ViT, router, the chosen connector per tile.</summary>
public interface IVisionEngine
{
    IReadOnlyList<VisionResult> Encode(IReadOnlyList<FrameRequest> batch);
}

/// <summary>The language half of the model: prefill with the visual tokens, then greedy decoding.</summary>
public interface ILanguageEngine
{
    IReadOnlyList<LanguageResult> Generate(IReadOnlyList<LanguageRequest> batch);
}
