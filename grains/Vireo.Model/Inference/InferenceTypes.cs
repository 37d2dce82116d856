using Vireo.Model.Imaging;

namespace Vireo.Model.Inference;

/// <summary>A frame to encode, with its own routing and (optionally) its own tile-count limits.</summary>
public sealed record FrameInput(RgbFrame Frame, RoutingPolicy Routing, int? MinTiles = null, int? MaxTiles = null);

/// <summary>Where one tile went.</summary>
/// <param name="Index">Tile index in the frame: grid tiles row by row, then the thumbnail.</param>
/// <param name="IsThumbnail">Whether this is the whole-frame thumbnail.</param>
/// <param name="Compressed">Whether the tile took the 64-token path.</param>
/// <param name="CompressProbability">ViR's probability that the tile can take 64 tokens (computed whatever the routing).</param>
/// <param name="VisualTokens">Tokens the tile contributed (256 or 64).</param>
public sealed record TileRoute(int Index, bool IsThumbnail, bool Compressed, float CompressProbability, int VisualTokens);

/// <summary>The vision side's result for one frame: the tiles' routes and the visual tokens the language side will read.</summary>
/// <param name="Tiles">Per-tile routes and ViR probabilities.</param>
/// <param name="VisualTokensBefore">Tiles × 256.</param>
/// <param name="VisualTokensAfter">Tokens after routing.</param>
/// <param name="VisualTokens">[VisualTokensAfter × language width] values, row-major.</param>
/// <param name="VisionMilliseconds">This frame's share of the batch's vision time.</param>
public sealed record EncodedFrame(
    IReadOnlyList<TileRoute> Tiles,
    int VisualTokensBefore,
    int VisualTokensAfter,
    float[] VisualTokens,
    double VisionMilliseconds);

/// <summary>The result for one frame.</summary>
/// <param name="Text">The generated text: caption, then "text: …" (see <see cref="ModelAnswer"/>).</param>
/// <param name="Tiles">Per-tile routes and ViR probabilities.</param>
/// <param name="VisualTokensBefore">Tiles × 256: the tokens without routing.</param>
/// <param name="VisualTokensAfter">The tokens the language model actually received.</param>
/// <param name="VisionMilliseconds">This frame's share of the batch's tiling, ViT, router and connector time.</param>
/// <param name="LanguageMilliseconds">Prefill and greedy decoding for this frame.</param>
/// <param name="TextConfidence">How sure the model is of the text field it generated (see <see cref="LanguageAnswer.TextConfidence"/>).</param>
/// <param name="ShapeConfidences">How sure the model is of each shape it reports (see <see cref="LanguageAnswer.ShapeConfidences"/>).</param>
public sealed record FrameAnalysis(
    string Text,
    IReadOnlyList<TileRoute> Tiles,
    int VisualTokensBefore,
    int VisualTokensAfter,
    double VisionMilliseconds,
    double LanguageMilliseconds,
    double? TextConfidence,
    IReadOnlyList<double> ShapeConfidences);
