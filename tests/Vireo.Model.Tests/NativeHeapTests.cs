using System.Runtime.InteropServices;

namespace Vireo.Model.Tests;

public sealed partial class NativeHeapTests
{
    [Fact]
    public void MemoryFreedOnTheNativeHeapIsReusedWithoutBeingFaultedInAgain()
    {
        NativeHeap.KeepFreedMemory();
        // Under glibc's own thresholds a block this size is mapped afresh, or its pages handed back, until the
        // second or third time round; here the second block is the first one's pages.
        const int bytes = 24 << 20;
        Touch(bytes);
        var before = MinorFaultsOfThisThread();
        Touch(bytes);
        var faults = MinorFaultsOfThisThread() - before;
        Assert.True(faults < bytes / 4096 / 10, $"{faults} page faults for a {bytes >> 20} MB block freed and allocated again");
    }

    private static unsafe void Touch(int bytes)
    {
        var block = (byte*)NativeMemory.Alloc((nuint)bytes);
        try
        {
            for (var i = 0; i < bytes; i += 4096) block[i] = 1;
        }
        finally
        {
            NativeMemory.Free(block);
        }
    }

    private static long MinorFaultsOfThisThread()
    {
        const int thisThread = 1;
        if (GetResourceUsage(thisThread, out var usage) != 0) throw new InvalidOperationException("getrusage failed");
        return usage.MinorFaults;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxResident, SharedText, UnsharedData, UnsharedStack, MinorFaults, MajorFaults;
        public long Swaps, BlocksIn, BlocksOut, MessagesSent, MessagesReceived, Signals, VoluntarySwitches, InvoluntarySwitches;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetResourceUsage(int who, out ResourceUsage usage);
}
