using Vireo.Model.Modules;
using static TorchSharp.torch;

namespace Vireo.Model.Training;

/// <summary>
/// Where each patch of a side x side grid goes in a connector's pixel shuffle: the token that carries it and its
/// place inside that token (which slice of the token's concatenated channels is its), and how many places a token has.
/// </summary>
public sealed record TokenPlaces(long[] Token, long[] Place, int PerToken)
{
    /// <summary>The places of the pixel shuffle at <paramref name="ratio"/>, found by shuffling the patch indices.</summary>
    public static TokenPlaces Of(int side, double ratio)
    {
        using var indices = arange(side * side, dtype: ScalarType.Float32).reshape(1, side * side, 1);
        using var shuffled = PixelShuffle.Apply(indices, ratio);
        var flat = shuffled.reshape(-1).data<float>().ToArray();
        var perToken = (int)shuffled.shape[2];
        var (token, place) = (new long[side * side], new long[side * side]);
        for (var k = 0; k < flat.Length; k++)
            (token[(int)flat[k]], place[(int)flat[k]]) = (k / perToken, k % perToken);
        return new TokenPlaces(token, place, perToken);
    }

    /// <summary>
    /// For each patch, its row in a token's per-place outputs laid out token by token, place by place
    /// ([tokens * places]): indexing those rows with this puts them back in patch order.
    /// </summary>
    public long[] PatchRows() => [.. Token.Select((t, p) => t * PerToken + Place[p])];
}
