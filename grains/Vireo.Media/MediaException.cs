namespace Vireo.Media;

/// <summary>Why a video was refused or could not be read.</summary>
public enum MediaErrorKind
{
    /// <summary>The file does not exist.</summary>
    NotFound,
    /// <summary>The file has zero bytes.</summary>
    EmptyFile,
    /// <summary>ffmpeg recognises no media container or codec in the file.</summary>
    NotAVideo,
    /// <summary>The file is a media file but carries no video stream (audio only, for instance).</summary>
    NoVideoStream,
    /// <summary>The file ends early (missing index, partial last packets).</summary>
    Truncated,
    /// <summary>The container or the stream is damaged beyond what ffmpeg can read.</summary>
    Corrupt,
    /// <summary>Width, height or pixel count is zero or above the configured limits.</summary>
    DimensionsOutOfRange,
    /// <summary>The duration is unknown, zero or above the configured limit.</summary>
    DurationOutOfRange,
    /// <summary>The file is larger than the configured limit.</summary>
    FileTooLarge,
    /// <summary>ffprobe or ffmpeg ran past its time limit and was killed.</summary>
    Timeout,
    /// <summary>ffmpeg failed while decoding, or could not be started.</summary>
    DecodeFailed,
}

/// <summary>A typed media error: the pipeline decides from <see cref="Kind"/> whether a retry can help.</summary>
public sealed class MediaException : Exception
{
    public MediaException(MediaErrorKind kind, string path, string message, Exception? inner = null)
        : base($"{kind}: {message} ({path})", inner)
    {
        Kind = kind;
        Path = path;
    }

    /// <summary>What went wrong.</summary>
    public MediaErrorKind Kind { get; }

    /// <summary>The file concerned.</summary>
    public string Path { get; }

    /// <summary>Whether trying again later may succeed (only a timeout, as the other kinds are facts about the file).</summary>
    public bool IsTransient => Kind == MediaErrorKind.Timeout;
}
