using Vireo.Model.Inference;

namespace Vireo.Model.Tests;

public sealed class BFloat16Tests
{
    [Fact]
    public void VisualTokensCrossBetweenWorkersAsBfloat16RoundedToNearestEven()
    {
        // Values a bfloat16 holds come back exactly.
        float[] exact = [0f, -0f, 1f, -2.5f, 3.140625f, 65536f, float.PositiveInfinity, float.NegativeInfinity];
        Assert.Equal(exact, BFloat16.ToSingles(BFloat16.FromSingles(exact)));
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: it goes to the even one, 1; just above halfway goes up.
        Assert.Equal(1f, BFloat16.ToSingle(BFloat16.FromSingle(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 128, BFloat16.ToSingle(BFloat16.FromSingle(1f + 1f / 256 + 1f / 65536)));
        Assert.Equal(1f + 2f / 128, BFloat16.ToSingle(BFloat16.FromSingle(1f + 3f / 256)));
        // Past the largest bfloat16 a value rounds to infinity; a NaN stays a NaN.
        Assert.Equal(float.PositiveInfinity, BFloat16.ToSingle(BFloat16.FromSingle(float.MaxValue)));
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.FromSingle(float.NaN))));
        // Relative error at most half a unit in the last of 8 significant bits, 2^-8, for ordinary values.
        var rng = new Random(3);
        for (var i = 0; i < 10_000; i++)
        {
            var v = (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-20, 20)));
            var back = BFloat16.ToSingle(BFloat16.FromSingle(v));
            Assert.InRange(Math.Abs(back - v), 0, Math.Abs(v) / 256);
        }
    }
}
