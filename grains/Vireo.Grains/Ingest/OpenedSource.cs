using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vireo.Grains.Ingest;

/// <summary>
/// A checked source file, held open while it is read. On Linux, ffprobe and ffmpeg are handed
/// <c>/proc/PID/fd/N</c>, a name of this very open file: replacing the path, or a folder along it, after the check
/// changes nothing of what is read. Elsewhere the checked path is handed on.
/// </summary>
public sealed partial class OpenedSource : IDisposable
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
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                return new OpenedSource(File.OpenHandle(checkedPath, FileMode.Open, FileAccess.Read, FileShare.Read), checkedPath, checkedPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SourceRejectedException($"the source cannot be opened: {e.Message}");
            }
        }
        var handle = OpenRegularFile(checkedPath);
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

    /// <summary>
    /// Opens a regular file for reading without ever blocking: a named pipe blocks open(2) until a writer comes, and a
    /// device or socket is no video, so the file is opened with O_NONBLOCK (which regular files ignore) and refused
    /// unless the open descriptor is a regular file.
    /// </summary>
    private static SafeFileHandle OpenRegularFile(string path)
    {
        var descriptor = Native.Open(path, Native.ReadOnly | Native.NonBlocking | Native.CloseOnExec);
        if (descriptor < 0)
        {
            var error = Marshal.GetLastPInvokeErrorMessage();
            throw new SourceRejectedException($"the source cannot be opened: {error}");
        }
        var handle = new SafeFileHandle(descriptor, ownsHandle: true);
        var status = new byte[Native.StatxSize];
        if (Native.Statx(descriptor, "", Native.EmptyPath, Native.StatxType, status) != 0 ||
            (BitConverter.ToUInt16(status, Native.StatxModeOffset) & Native.FileTypeMask) != Native.RegularFile)
        {
            handle.Dispose();
            throw new SourceRejectedException("the source is not a regular file (a pipe, device, socket or folder)");
        }
        return handle;
    }

    private static partial class Native
    {
        public const int ReadOnly = 0, NonBlocking = 0x800, CloseOnExec = 0x80000;
        public const int EmptyPath = 0x1000, StatxType = 0x1;

        /// <summary>struct statx is the same on every Linux architecture: 256 bytes, the mode a u16 at byte 28.</summary>
        public const int StatxSize = 256, StatxModeOffset = 28;

        public const int FileTypeMask = 0xF000, RegularFile = 0x8000;

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);
    }
}
