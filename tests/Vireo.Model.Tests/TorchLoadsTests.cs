using TorchSharp;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class TorchLoadsTests
{
    [Fact]
    public void MatrixProductRunsOnCpu()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        using var c = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
        Assert.Equal(DeviceType.CPU, TorchRuntime.ResolveDevice("cpu").type);
    }
}
