using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace Vireo.Media;

/// <summary>
/// Linux pipes hold 64 KiB by default, a fifth of a 448x448 yuv420p frame (a tenth of an RGB one), so ffmpeg and
/// the reader take turns many times per frame. A 1 MiB pipe (the default unprivileged maximum) lets whole frames
/// through at once.
/// </summary>
internal static class PipeTuning
{
    private const int SetPipeSize = 1031; // F_SETPIPE_SZ
    private const int Size = 1 << 20;

    public static void TryEnlarge(Stream stream)
    {
        if (!OperatingSystem.IsLinux() || stream is not PipeStream pipe) return;
        try
        {
            _ = Fcntl((int)pipe.SafePipeHandle.DangerousGetHandle(), SetPipeSize, Size);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not fatal: only slower.
        }
    }

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int Fcntl(int fd, int command, int argument);
}
