using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Vireo.Model.Modules;

/// <summary>InternVL's pixel shuffle (ps_version v2): trades spatial resolution for channels.</summary>
public static class PixelShuffle
{
    /// <summary>
    /// [tiles, side*side, C] → [tiles, (side*r)², C/r²]: each output token concatenates the channels of a
    /// (1/r)x(1/r) block of neighbouring patches. Same index arithmetic as InternVL's <c>pixel_shuffle</c>.
    /// </summary>
    public static Tensor Apply(Tensor features, double ratio)
    {
        using var scope = NewDisposeScope();
        long n = features.shape[0], tokens = features.shape[1], c = features.shape[2];
        var side = (long)Math.Round(Math.Sqrt(tokens));
        if (side * side != tokens) throw new ArgumentException($"{tokens} tokens do not form a square grid.");
        var factor = (long)Math.Round(1 / ratio);
        var x = features.reshape(n, side, side, c);
        // InternVL: view(n, w, h*r, c/r) → permute → view(n, h*r, w*r, c/r²) → permute.
        x = x.reshape(n, side, side / factor, c * factor).permute(0, 2, 1, 3).contiguous();
        x = x.reshape(n, side / factor, side / factor, c * factor * factor).permute(0, 2, 1, 3).contiguous();
        return x.reshape(n, -1, c * factor * factor).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The connectors' MLPs, built as the <c>nn.Sequential</c> they mirror so parameter names match InternVL
/// (mlp1: 0 LayerNorm, 1 Linear, 2 GELU, 3 Linear; mlp2: 0 LayerNorm, 1 Linear, 2 GELU, 3 Dropout, 4 Linear, 5 GELU,
/// 6 Dropout, 7 Linear, with the dropouts as identities at inference).
/// The pixel shuffle before them has no parameters and is applied by <see cref="VireoModel"/>.
/// </summary>
public static class Connectors
{
    /// <summary>mlp1: after shuffle 0.5, LayerNorm(4D) → Linear(4D, H) → GELU → Linear(H, H).</summary>
    public static Sequential Standard(int visionWidth, int llmWidth, double ratio)
    {
        var inWidth = ShuffledWidth(visionWidth, ratio);
        return Sequential(
            ("0", LayerNorm(inWidth)),
            ("1", Linear(inWidth, llmWidth)),
            ("2", GELU()),
            ("3", Linear(llmWidth, llmWidth)));
    }

    /// <summary>mlp2: after shuffle 0.25, LayerNorm(16D) → Linear(16D, 2H) → GELU → Linear(2H, 2H) → GELU → Linear(2H, H).</summary>
    public static Sequential Compressed(int visionWidth, int llmWidth, double ratio)
    {
        var inWidth = ShuffledWidth(visionWidth, ratio);
        return Sequential(
            ("0", LayerNorm(inWidth)),
            ("1", Linear(inWidth, 2 * llmWidth)),
            ("2", GELU()),
            ("3", Identity()),
            ("4", Linear(2 * llmWidth, 2 * llmWidth)),
            ("5", GELU()),
            ("6", Identity()),
            ("7", Linear(2 * llmWidth, llmWidth)));
    }

    private static int ShuffledWidth(int width, double ratio) => (int)Math.Round(width / (ratio * ratio));
}
