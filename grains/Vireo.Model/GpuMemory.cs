using System.Runtime.InteropServices;

namespace Vireo.Model;

/// <summary>Memory of one GPU, in bytes.</summary>
public readonly record struct GpuMemoryInfo(ulong Total, ulong Free, ulong Used);

/// <summary>
/// Reads a GPU's memory through NVML, the NVIDIA driver's management library. TorchSharp has no call for CUDA
/// memory statistics, and NVML sees everything on the device, the caching allocator's reserve included. Where the
/// driver is absent (no NVIDIA GPU) every read answers null.
/// </summary>
public static partial class GpuMemory
{
    private const string Nvml = "libnvidia-ml.so.1";
    private static readonly Lazy<bool> Initialised = new(() =>
    {
        try
        {
            return nvmlInit_v2() == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>The memory of GPU <paramref name="index"/>, or null when NVML cannot say.</summary>
    public static GpuMemoryInfo? Read(int index)
    {
        if (!Initialised.Value || nvmlDeviceGetHandleByIndex_v2((uint)index, out var device) != 0 || nvmlDeviceGetMemoryInfo(device, out var memory) != 0)
            return null;
        return new GpuMemoryInfo(memory.Total, memory.Free, memory.Used);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct NvmlMemory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    [LibraryImport(Nvml)]
    private static partial int nvmlInit_v2();

    [LibraryImport(Nvml)]
    private static partial int nvmlDeviceGetHandleByIndex_v2(uint index, out nint device);

    [LibraryImport(Nvml)]
    private static partial int nvmlDeviceGetMemoryInfo(nint device, out NvmlMemory memory);
}
