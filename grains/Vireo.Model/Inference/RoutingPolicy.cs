namespace Vireo.Model.Inference;

/// <summary>
/// How the tiles of one frame are sent to the 256-token or the 64-token connector. ViR's probability is computed
/// for every tile whatever the policy, so results always carry it.
/// </summary>
public abstract record RoutingPolicy
{
    private RoutingPolicy()
    {
    }

    /// <summary>
    /// ViR decides per tile: compress when the tile's own probability reaches <paramref name="threshold"/>, or the
    /// checkpoint's threshold when null.
    /// </summary>
    public static RoutingPolicy Router(double? threshold = null) => threshold is null ? ByRouter.Default : new ByRouter(threshold);

    /// <summary>Every tile on one path: all 64 tokens when <paramref name="compressed"/>, else all 256.</summary>
    public static RoutingPolicy Fixed(bool compressed) => compressed ? OnePath.AllCompressed : OnePath.NoneCompressed;

    /// <summary>A baseline for evaluation: each tile compressed with probability <paramref name="fraction"/>, seeded.</summary>
    public static RoutingPolicy Random(double fraction, int seed) => new AtRandom(fraction, seed);

    /// <summary>Decides each tile of one frame from its compress probability.</summary>
    /// <param name="compressProbability">ViR's probability per tile, in tile order.</param>
    /// <param name="configThreshold">The checkpoint's router threshold, for policies that do not set their own.</param>
    /// <param name="compress">Receives the decision per tile.</param>
    public abstract void Decide(ReadOnlySpan<float> compressProbability, double configThreshold, Span<bool> compress);

    /// <summary>ViR's decision: compress when P(compress) ≥ the threshold.</summary>
    /// <param name="Threshold">Null uses the checkpoint's threshold.</param>
    public sealed record ByRouter(double? Threshold) : RoutingPolicy
    {
        internal static readonly ByRouter Default = new((double?)null);

        public override void Decide(ReadOnlySpan<float> compressProbability, double configThreshold, Span<bool> compress)
        {
            var threshold = Threshold ?? configThreshold;
            for (var i = 0; i < compressProbability.Length; i++) compress[i] = compressProbability[i] >= threshold;
        }
    }

    /// <summary>Every tile on the same path.</summary>
    public sealed record OnePath(bool Compressed) : RoutingPolicy
    {
        internal static readonly OnePath AllCompressed = new(true);
        internal static readonly OnePath NoneCompressed = new(false);

        public override void Decide(ReadOnlySpan<float> compressProbability, double configThreshold, Span<bool> compress) =>
            compress[..compressProbability.Length].Fill(Compressed);
    }

    /// <summary>
    /// Each tile compressed with probability <paramref name="Fraction"/>. Every frame draws from a fresh generator
    /// seeded with <paramref name="Seed"/>, so a frame's decisions do not depend on its batch.
    /// </summary>
    public sealed record AtRandom(double Fraction, int Seed) : RoutingPolicy
    {
        public override void Decide(ReadOnlySpan<float> compressProbability, double configThreshold, Span<bool> compress)
        {
            var random = new System.Random(Seed);
            for (var i = 0; i < compressProbability.Length; i++) compress[i] = random.NextDouble() < Fraction;
        }
    }
}
