namespace Vireo.Grains;

/// <summary>
/// One video's analysis, keyed by video id. It lives on a media silo, streams the video's frames through the GPU
/// workers, publishes results and checkpoints progress so that another silo can resume it.
/// </summary>
[Alias("Vireo.IVideoGrain")]
public interface IVideoGrain : IGrainWithStringKey
{
    /// <summary>Starts the analysis once; a repeated submission of a known video changes nothing.</summary>
    [Alias("Submit")]
    Task<SubmitOutcome> Submit(VideoJob job);

    [Alias("GetProgress")]
    Task<VideoProgress> GetProgress();
}

/// <summary>
/// A vision worker on a vision silo, keyed by an integer. Frames sent to it are batched with frames of other
/// videos; its queue is bounded, so a caller waits when the GPU falls behind.
/// </summary>
[Alias("Vireo.IVisionWorker")]
public interface IVisionWorker : IGrainWithIntegerKey
{
    [Alias("Encode")]
    Task<VisionResult> Encode(VisionRequest request);
}

/// <summary>A language worker on a language silo, keyed by an integer; batched and bounded like the vision workers.</summary>
[Alias("Vireo.ILanguageWorker")]
public interface ILanguageWorker : IGrainWithIntegerKey
{
    [Alias("Generate")]
    Task<LanguageResult> Generate(LanguageRequest request);
}
