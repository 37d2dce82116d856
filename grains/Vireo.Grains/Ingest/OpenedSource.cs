using Microsoft.Win32.SafeHandles;

namespace Vireo.Grains.Ingest;

/// <summary>
/// A checked source file, held open while it is read. On Linux, ffprobe and ffmpeg are handed
/// <c>/proc/PID/fd/N</c>, a name of this very open file: replacing the path, or a folder along it, after the check
/// changes nothing of what is read. Elsewhere the checked path is handed on.
/// </summary>
public sealed class OpenedSource : IDisposable
{
    private readonly SafeFileHandle _handle;

    private OpenedSource(SafeFileHandle handle, string path, string realPath) => (_handle, Path, RealPath) = (handle, path, realPath);

    /// <summary>What the decoder opens.</summary>
    public string Path { get; }

    /// <summary>Where the open file is, as the kernel reports it.</summary>
    public string RealPath { get; }

    /// <summary>
    /// Opens <paramref name="checkedPath"/> for reading, then confirms from the open descriptor itself that the file is
    /// under <paramref name="root"/>: a path swapped for a link between the check and the open is caught here.
    /// </summary>
    public static OpenedSource Open(string checkedPath, string root)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(checkedPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SourceRejectedException($"the source cannot be opened: {e.Message}");
        }
        if (!OperatingSystem.IsLinux())
            return new OpenedSource(handle, checkedPath, checkedPath);
        var descriptor = handle.DangerousGetHandle().ToInt32();
        var real = new FileInfo($"/proc/self/fd/{descriptor}").LinkTarget ?? checkedPath;
        if (!real.StartsWith(root.TrimEnd('/') + "/", StringComparison.Ordinal))
        {
            handle.Dispose();
            throw new SourceRejectedException("the source was moved outside its folder after it was checked");
        }
        return new OpenedSource(handle, $"/proc/{Environment.ProcessId}/fd/{descriptor}", real);
    }

    public void Dispose() => _handle.Dispose();
}
