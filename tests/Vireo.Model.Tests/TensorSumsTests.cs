using TorchSharp;
using static TorchSharp.torch;

namespace Vireo.Model.Tests;

public sealed class TensorSumsTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void PlusAndPlusInPlaceGiveTheBitsOfAddAndTheirFactorOutlivesCollections(ScalarType dtype)
    {
        random.manual_seed(5);
        using var a = randn(64, 33).to(dtype);
        using var b = randn(64, 33).to(dtype);
        using var epsilon = 1e-6.ToScalar();
        using var sum = a + b;
        using var shifted = a + epsilon;

        for (var round = 0; round < 50; round++)
        {
            // Finalizers run between the calls: the factor Plus hands libtorch must still be there each time.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var plus = a.Plus(b);
            using var plusScalar = a.Plus(epsilon);
            using var inPlace = a.clone();
            using var inPlaceScalar = a.clone();
            inPlace.PlusInPlace(b);
            inPlaceScalar.PlusInPlace(epsilon);
            using var same = plus.eq(sum).all();
            using var sameShift = plusScalar.eq(shifted).all();
            using var sameInPlace = inPlace.eq(sum).all();
            using var sameInPlaceShift = inPlaceScalar.eq(shifted).all();
            Assert.True(same.item<bool>());
            Assert.True(sameShift.item<bool>());
            Assert.True(sameInPlace.item<bool>());
            Assert.True(sameInPlaceShift.item<bool>());
        }
    }
}
