using System.Runtime.InteropServices;

namespace Vireo.Model;

/// <summary>
/// Keeps the memory libtorch frees on the CPU for its next allocation. glibc's allocator gives freed memory above
/// its trim threshold back to the kernel and maps larger blocks afresh, so every forward pass on the CPU faulted its
/// activations in again page by page: a 48-frame <c>vireo eval</c> took 3.2-3.7 million page faults, and with the
/// settings below 0.95-1.2 million (those left are blocks over 32 MB, which glibc always maps on their own), at
/// 3-12 % more frames a second. The process keeps its high-water mark of native memory instead of returning it.
/// </summary>
public static partial class NativeHeap
{
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;
    private static int _applied;

    /// <summary>Sets glibc's thresholds once per process; elsewhere (musl, other systems) does nothing.</summary>
    public static void KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _applied, 1) == 1) return;
        try
        {
            // 32 MB is the largest mmap threshold glibc accepts on 64-bit systems.
            Mallopt(MmapThreshold, 32 << 20);
            Mallopt(TrimThreshold, int.MaxValue);
            Mallopt(TopPad, 64 << 20);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
